"""Checks as code: namespaces, datasources, datasets, runbooks, checkers and alarms as YAML.

The file format and the ``import_config`` / ``export_config`` commands are a contract
(docs/contracts.md); docs/checks-as-code.md is the reference for every key and extension.
"""

from checks_as_code.config.document import ConfigError, ConfigInvalid
from checks_as_code.config.export import export_yaml
from checks_as_code.config.importer import import_file, import_text
from checks_as_code.config.plan import Action, Plan

__all__ = ["Action", "ConfigError", "ConfigInvalid", "Plan", "export_yaml", "import_file", "import_text"]
