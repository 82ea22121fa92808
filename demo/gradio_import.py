"""Import gradio without regenerating its type stubs: about half of its import time.

On every import, gradio's ``ComponentMeta`` rewrites the ``.pyi`` stub of each
component class it defines (``create_or_modify_pyi`` in ``gradio/component_meta.py``):
it re-reads and ``ast``-parses every component's source file and renders a jinja
template, about 80 times. The stubs are for editors and type checkers; nothing
reads them at run time, and it is a large part of ``import gradio`` (``python -X
importtime -c "import gradio"`` shows it; docs/benchmarks.md has the figures), so
``python app.py`` skips it; it would also write ``demo/ui.pyi`` beside this
package's own components.

``skip_stub_generation()`` must run before gradio is first imported; after that,
or on a gradio without that function, it changes nothing.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

_MODULE = "gradio.component_meta"
_FUNCTION = "create_or_modify_pyi"


def _no_stub(*args, **kwargs) -> None:
    return None


class _StublessLoader(importlib.abc.Loader):
    """Runs the module as its own loader would, then swaps the stub writer for a no-op."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def __getattr__(self, name):          # get_source etc., for tracebacks
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        self.loader.exec_module(module)
        if callable(getattr(module, _FUNCTION, None)):
            setattr(module, _FUNCTION, _no_stub)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _MODULE:
            return None
        sys.meta_path.remove(self)          # once is enough; also keeps the lookup below off this finder
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _StublessLoader(spec.loader)
        return spec


def skip_stub_generation() -> None:
    if _MODULE in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
