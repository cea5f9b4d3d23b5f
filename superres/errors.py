"""What a user can fix, as exceptions: the CLI prints them as one line; anything else is a bug and propagates."""

__all__ = ['SuperresError', 'UsageError', 'DataError', 'ModelError', 'ContractError', 'broken_outputs']

class SuperresError(Exception):
    "Something the user can fix; the message says what was wrong and what to do, naming arguments in backticks."

class UsageError(SuperresError, ValueError):
    "An argument or combination of arguments that cannot work (a bad value, a missing companion, a wrong file kind)."

class DataError(SuperresError):
    "A data set or image file that is missing, incomplete or unreadable."

class ModelError(SuperresError):
    "A model file that is missing, of the wrong kind, or not a superres model."

class ContractError(UsageError):
    "Images that do not match a model's input contract: the wrong value range or statistics."

def broken_outputs(what='model'):
    "The error for a model whose outputs are NaN or infinite: outputs are checked, not assumed (a checksum can match)."
    return ModelError(f'the {what} gave NaN or infinite values: its weights are broken; download or train it again')
