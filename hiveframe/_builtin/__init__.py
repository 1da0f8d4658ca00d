"""The kernel's builtin plugin: baseline readers, writers, transformers, generator and linkage."""
