"""Errors a user can act on. The CLI and web print their message, never a traceback."""


class HotspotsError(Exception):
    """Base for every error whose message is written for the user."""


class PackError(HotspotsError):
    """The boundary pack is missing, incomplete or inconsistent."""


class InputFileError(HotspotsError):
    """An input file cannot be read as incident records at all."""


class MappingError(HotspotsError):
    """A column mapping is incomplete or names columns the file does not have."""


class StoreError(HotspotsError):
    """The incident store cannot be opened or written."""
