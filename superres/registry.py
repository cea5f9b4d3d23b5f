"""Registries: named constructors (architectures, presets, tasks, losses) looked up by the name a user types."""
from .errors import UsageError

__all__ = ['Registry']

class Registry(dict):
    "A name -> constructor table, as BasicSR's registry: `@REG.register('name')`; an unknown name is a `UsageError`."
    def __init__(self, kind, items=()):
        super().__init__(items)
        self.kind = kind

    def register(self, name=None):
        "Decorator that adds a constructor under `name` (default: its own name)."
        def add(obj):
            key = name or obj.__name__
            if key in self: raise KeyError(f'{self.kind} {key!r} is registered twice')
            self[key] = obj
            return obj
        return add

    def __missing__(self, name): raise UsageError(f'unknown {self.kind} {name!r}; choose one of {", ".join(self)}')
