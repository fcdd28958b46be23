"""The wasmtime host for checkers.

This package imports nothing from Django: bytes and datasets in, an ``Outcome`` out.
"""
