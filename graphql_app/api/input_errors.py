"""Messages for input values that fail their type -- inline literals (validation) and
variables (coercion) -- that say what is wrong and where, never the value.

graphql-core quotes the value in these messages ("..., found: {password: ...}"), with or
without `hide_suggestions`. Its messages (graphql-core 3.3) are recognised by their fixed
beginning, which names only types and fields of the schema; any other message is reported
as the type expected at that place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from graphql import (
    SKIP,
    ArgumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    ValueNode,
    VariableDefinitionNode,
    VisitorAction,
    get_named_type,
    is_input_type,
)
from graphql.pyutils import print_path_list
from graphql.utilities import type_from_ast, validate_input_literal
from graphql.validation import ASTValidationRule, ValuesOfCorrectTypeRule
from graphql.validation import specified_rules as graphql_rules

_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"Expected a value of non-null type '([^']+)' to be provided\."),
        "no value for non-null type '{0}'.",
    ),
    (
        re.compile(r"Expected value of non-null type '([^']+)' not to be None\."),
        "null for non-null type '{0}'.",
    ),
    (
        re.compile(r"Expected value of type '([^']+)' to be an object,"),
        "expected an object of type '{0}'.",
    ),
    (
        re.compile(r"Expected value of type '([^']+)' to include required field '(\w+)',"),
        "required field '{1}' of '{0}' is missing.",
    ),
    (
        re.compile(r"Expected value of type '([^']+)' not to include unknown field "),
        "a field that '{0}' does not have.",
    ),
    (
        re.compile(r"Within OneOf Input Object type '([^']+)',"),
        "exactly one field of '{0}' must be given, and not null.",
    ),
)
_PATH = re.compile(r"(?: at (?:\.\w+|\[\d+\])+)?")
_PATH_KEY = re.compile(r"\.(\w+)|\[(\d+)\]")


def problem(message: str, type_: GraphQLInputType, path: Sequence[str | int]) -> str:
    """What is wrong at `path` of a value of `type_`, from graphql-core's `message`."""
    for pattern, text in _PROBLEMS:
        if match := pattern.match(message):
            return text.format(*match.groups())
    return f"expected a value of type '{get_named_type(_type_at(type_, path))}'."


def _type_at(type_: GraphQLInputType, path: Sequence[str | int]) -> GraphQLInputType:
    for key in path:
        nullable = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if isinstance(key, int) and isinstance(nullable, GraphQLList):
            type_ = nullable.of_type
        elif isinstance(key, str) and isinstance(nullable, GraphQLInputObjectType):
            type_ = nullable.fields[key].type
    return type_


def variable_message(error: GraphQLError, schema: GraphQLSchema) -> str | None:
    """The message for graphql-core's coercion failure of a variable, or None if `error` is
    not one. graphql-core's reads "Variable '$name' has invalid value<path>: <what>", where
    <what> is the message of its `original_error`."""
    node = error.nodes[0] if error.nodes else None
    if not isinstance(node, VariableDefinitionNode) or error.path is not None:
        return None
    name = node.variable.name.value
    type_ = type_from_ast(schema, node.type)
    original = error.original_error
    what = original.message if isinstance(original, GraphQLError) else None
    prefix = f"Variable '${name}' has invalid value"
    if not is_input_type(type_) or what is None or not error.message.startswith(prefix):
        return f"Variable '${name}' has an invalid value."
    path_text = error.message.removeprefix(prefix).removesuffix(f": {what}")
    if not _PATH.fullmatch(path_text):
        return f"Variable '${name}' has an invalid value."
    path = [int(index) if index else key for key, index in _PATH_KEY.findall(path_text)]
    if not path and what.startswith("Expected a value of non-null type"):
        return f"Variable '${name}' of non-null type '{type_}' was not provided."
    return f"Variable '${name}' has an invalid value{path_text}: {problem(what, type_, path)}"


class ValuesOfCorrectTypeWithoutValuesRule(ValuesOfCorrectTypeRule):
    """graphql-core's rule, reporting each failure by place and type, never by value."""

    argument: str | None = None  # the argument whose value is being checked

    def enter_argument(self, node: ArgumentNode, *_args: object) -> None:
        self.argument = node.name.value

    def leave_argument(self, *_args: object) -> None:
        self.argument = None

    def is_valid_value_node(
        self, node: ValueNode, input_type: GraphQLInputType | None
    ) -> VisitorAction:
        if input_type:
            where = f"Argument '{self.argument}'" if self.argument else "A value"

            def report(error: GraphQLError, path: list[str | int]) -> None:
                what = problem(error.message, input_type, path)
                message = f"{where} has an invalid value{print_path_list(path)}: {what}"
                self.report_error(GraphQLError(message, error.nodes or node))

            validate_input_literal(node, input_type, report, None, None, True)
        return SKIP  # the whole value was checked


# graphql-core's rules, with the one above in place of its `ValuesOfCorrectTypeRule`.
specified_rules: tuple[type[ASTValidationRule], ...] = tuple(
    ValuesOfCorrectTypeWithoutValuesRule if rule is ValuesOfCorrectTypeRule else rule
    for rule in graphql_rules
)
