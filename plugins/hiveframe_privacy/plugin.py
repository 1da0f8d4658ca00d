"""Entry module of hiveframe_privacy: imports only hiveframe and the standard library."""

from __future__ import annotations

from hiveframe.hookspecs import hookimpl


@hookimpl
def hiveframe_register_privacy_wrappers():
    from hiveframe_privacy.dp import DPWrapper
    from hiveframe_privacy.pii import PIIWrapper

    return [PIIWrapper, DPWrapper]


@hookimpl
def hiveframe_register_table_generators():
    from hiveframe_privacy.dp import DPProtectedGenerator
    from hiveframe_privacy.pii import PIIProtectedGenerator

    return [PIIProtectedGenerator, DPProtectedGenerator]


@hookimpl
def hiveframe_register_linkage_models():
    from hiveframe_privacy.linkage import DPHistogramLinkage

    return [DPHistogramLinkage]


@hookimpl
def hiveframe_detect_columns(table_name, data, columns):
    from hiveframe_privacy.detection import detect_pii

    return detect_pii(table_name, data, columns)
