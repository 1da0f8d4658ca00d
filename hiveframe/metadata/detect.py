"""Metadata detection from data. (being written)"""
