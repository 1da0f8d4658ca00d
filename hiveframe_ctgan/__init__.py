"""hiveframe_ctgan: first-party hiveframe plugin with the VGM transformer and the CTGAN and TVAE
table generators (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN").

Registered through the ``hiveframe`` entry point ``ctgan = "hiveframe_ctgan.plugin"``. Importing
this package loads neither torch nor the component modules.
"""

__version__ = "0.1.0"
