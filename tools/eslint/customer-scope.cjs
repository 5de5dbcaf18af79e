// ESLint rule `raise-sync/customer-scope`: every public method of a repository class takes the
// customer scope first (`scope: CustomerScope`), so a customer-scoped query cannot be written
// with a bare or missing customer ID. The exceptions are written on purpose:
//   - a method named `…AcrossCustomers` (an operator query over every customer);
//   - a class whose doc comment says `@unscoped <why>` (its tables carry no customer key).

const OPERATOR_SUFFIX = 'AcrossCustomers';

const nameOf = (key) =>
  key.type === 'Identifier' ? key.name : key.type === 'Literal' ? String(key.value) : null;

const takesScope = (fn) => {
  const first = fn.params[0];
  const param = first && first.type === 'TSParameterProperty' ? first.parameter : first;
  const annotation = param && param.typeAnnotation && param.typeAnnotation.typeAnnotation;
  return (
    annotation !== undefined &&
    annotation !== null &&
    annotation.type === 'TSTypeReference' &&
    annotation.typeName.type === 'Identifier' &&
    annotation.typeName.name === 'CustomerScope'
  );
};

/** @type {import('eslint').Rule.RuleModule} */
const customerScopeRule = {
  meta: {
    type: 'problem',
    docs: { description: 'repository methods take the customer scope first' },
    schema: [],
    messages: {
      missing:
        "Repository method '{{name}}' must take `scope: CustomerScope` as its first parameter, " +
        "or be named '…AcrossCustomers' when it deliberately reads or writes every customer.",
    },
  },
  create(context) {
    const source = context.sourceCode;
    const unscoped = (cls) => {
      const holder = cls.parent && cls.parent.type.startsWith('Export') ? cls.parent : cls;
      return source.getCommentsBefore(holder).some((c) => /@unscoped\s+\S/.test(c.value));
    };
    const check = (cls) => {
      if (unscoped(cls)) {
        return;
      }
      for (const member of cls.body.body) {
        const fn =
          member.type === 'MethodDefinition' && member.kind === 'method'
            ? member.value
            : member.type === 'PropertyDefinition' &&
                member.value &&
                (member.value.type === 'ArrowFunctionExpression' ||
                  member.value.type === 'FunctionExpression')
              ? member.value
              : null;
        if (!fn || member.key.type === 'PrivateIdentifier') {
          continue;
        }
        if (member.accessibility === 'private' || member.accessibility === 'protected') {
          continue;
        }
        const name = nameOf(member.key);
        if (name === null || name.endsWith(OPERATOR_SUFFIX) || takesScope(fn)) {
          continue;
        }
        context.report({ node: member.key, messageId: 'missing', data: { name } });
      }
    };
    return { ClassDeclaration: check };
  },
};

module.exports = {
  customerScopeRule,
  raiseSyncPlugin: { rules: { 'customer-scope': customerScopeRule } },
};
