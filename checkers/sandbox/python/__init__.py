"""The Python checker runtime: a WIT world, the guest runner that CPython runs inside the
sandbox (``guest/``), and ``build.py``, which turns both into a component with
componentize-py. The host side is ``checkers/sandbox/component.py``."""
