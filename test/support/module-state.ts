/**
 * Static checks for code that runs on the device. Moddable preloads modules at build time and
 * freezes everything they create into flash: a module-level `let` cannot be assigned, an array
 * cannot be pushed to, a typed array becomes a read-only buffer. Such writes fail only on the
 * device, at run time; these checks find them in the source instead.
 */
import { builtinModules } from "node:module";
import ts from "typescript";

export interface Finding {
  readonly line: number;
  readonly what: string;
}

function parse(fileName: string, text: string): ts.SourceFile {
  const kind = fileName.endsWith(".js") ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  return ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, kind);
}

function lineOf(source: ts.SourceFile, node: ts.Node): number {
  return source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
}

/** Methods that change the array, typed array, Map or Set they are called on. */
const MUTATORS = new Set(["push", "pop", "shift", "unshift", "splice", "sort", "reverse", "fill", "copyWithin", "set", "add", "delete", "clear"]);

/** The module-level identifier an expression such as `NAME[i]` or `NAME.a.b` writes into. */
function rootName(expression: ts.Expression): string | undefined {
  let node: ts.Expression = expression;
  while (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node) || ts.isNonNullExpression(node) || ts.isParenthesizedExpression(node)) {
    node = node.expression;
  }
  return ts.isIdentifier(node) ? node.text : undefined;
}

function isAssignmentOperator(kind: ts.SyntaxKind): boolean {
  return kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;
}

/**
 * Module-level state a preloaded module would have frozen under it: `let`/`var` bindings, and
 * writes anywhere in the file into objects bound by module-level `const`s. (A local that shadows
 * a module-level name can give a false alarm; rename it.)
 */
export function moduleLevelState(fileName: string, text: string): Finding[] {
  const source = parse(fileName, text);
  const findings: Finding[] = [];
  const constants = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const isConst = (statement.declarationList.flags & ts.NodeFlags.Const) !== 0;
    for (const declaration of statement.declarationList.declarations) {
      const name = declaration.name.getText(source);
      if (isConst) constants.add(name);
      else findings.push({ line: lineOf(source, declaration), what: `module-level variable ${name}` });
    }
  }
  const visit = (node: ts.Node): void => {
    let target: string | undefined;
    let how = "";
    if (ts.isBinaryExpression(node) && isAssignmentOperator(node.operatorToken.kind) && !ts.isIdentifier(node.left)) {
      target = rootName(node.left);
      how = "assigns into";
    } else if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) &&
      (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken) && !ts.isIdentifier(node.operand)) {
      target = rootName(node.operand);
      how = "increments a field of";
    } else if (ts.isDeleteExpression(node)) {
      target = rootName(node.expression);
      how = "deletes from";
    } else if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && MUTATORS.has(node.expression.name.text)) {
      target = rootName(node.expression.expression);
      how = `calls .${node.expression.name.text}() on`;
    } else if (ts.isCallExpression(node) && /^Object\.(assign|defineProperty|defineProperties|setPrototypeOf)$/.test(node.expression.getText(source)) && node.arguments[0]) {
      target = rootName(node.arguments[0]);
      how = "changes";
    }
    if (target !== undefined && constants.has(target)) {
      findings.push({ line: lineOf(source, node), what: `${how} module-level ${target}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

/** Globals that exist on Node but not in XS on the device. */
const NODE_GLOBALS = new Set([
  "process", "Buffer", "require", "module", "exports", "__dirname", "__filename", "global",
  "setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate",
  "queueMicrotask", "structuredClone", "fetch", "performance", "crypto", "TextEncoder", "TextDecoder", "console",
]);
const NODE_MODULES = new Set(builtinModules);

function isNameOnly(node: ts.Identifier): boolean {
  const parent = node.parent;
  if (ts.isPropertyAccessExpression(parent) && parent.name === node) return true;
  if (ts.isQualifiedName(parent) && parent.right === node) return true;
  if (ts.isPropertyAssignment(parent) && parent.name === node) return true;
  if ((ts.isMethodDeclaration(parent) || ts.isPropertyDeclaration(parent) || ts.isPropertySignature(parent) || ts.isMethodSignature(parent)) && parent.name === node) return true;
  if ((ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isFunctionDeclaration(parent) || ts.isClassDeclaration(parent)) && parent.name === node) return true;
  if (ts.isImportSpecifier(parent) || ts.isExportSpecifier(parent) || ts.isImportClause(parent)) return true;
  if (ts.isTypeReferenceNode(parent) || ts.isBindingElement(parent) || ts.isEnumMember(parent) || ts.isLabeledStatement(parent)) return true;
  return false;
}

/** Node module imports and Node-only globals; `platformModules` are the device's own modules whose names Node also uses (Moddable's "net"). */
export function nodeApiUses(fileName: string, text: string, platformModules: ReadonlySet<string> = new Set()): Finding[] {
  const source = parse(fileName, text);
  const findings: Finding[] = [];
  const declared = new Set<string>();
  const collect = (node: ts.Node): void => {
    if ((ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) && node.name && ts.isIdentifier(node.name)) {
      declared.add(node.name.text);
    }
    ts.forEachChild(node, collect);
  };
  collect(source);
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const specifier = node.moduleSpecifier.text;
      if (specifier.startsWith("node:") || (NODE_MODULES.has(specifier) && !platformModules.has(specifier))) findings.push({ line: lineOf(source, node), what: `imports ${specifier}` });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      findings.push({ line: lineOf(source, node), what: "dynamic import()" });
    } else if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text) && !declared.has(node.text) && !isNameOnly(node)) {
      findings.push({ line: lineOf(source, node), what: `uses ${node.text}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return findings;
}

/** Every module specifier a file imports or re-exports. */
export function importSpecifiers(fileName: string, text: string): string[] {
  const source = parse(fileName, text);
  const specifiers: string[] = [];
  for (const statement of source.statements) {
    if ((ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)) {
      specifiers.push(statement.moduleSpecifier.text);
    }
  }
  return specifiers;
}
