/**
 * `npm run docs:api`: writes docs/api.md, the reference of every public export of every subpath, generated from
 * the TypeScript sources (signatures from the type checker, descriptions from the doc comments).
 * `--check` exits 1 when docs/api.md is not what the sources generate (test/docs/api.test.ts runs the same check).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
export const API_FILE = path.join(ROOT, 'docs', 'api.md');

/** The package's subpaths and their entry files, in the order the reference lists them. */
export const SUBPATHS: ReadonlyArray<{ subpath: string; entry: string; summary: string }> = [
  { subpath: 'strangler-fig/proxy', entry: 'strangler-proxy/index.ts', summary: 'the routing proxy, its configuration, flag providers and admin clients ([guide](proxy.md))' },
  { subpath: 'strangler-fig/express', entry: 'strangler-proxy/express/index.ts', summary: 'the proxy as express middleware ([README](../README.md#the-express-middleware))' },
  { subpath: 'strangler-fig/outbox', entry: 'outbox/index.ts', summary: 'the outbox writer, migrations, relays, Kafka seams and the inbox consumer ([guide](outbox.md))' },
  { subpath: 'strangler-fig/sync', entry: 'sync/index.ts', summary: 'declared data mappings: backfill, verify and the sync applier ([guide](sync.md))' },
  { subpath: 'strangler-fig/rollout', entry: 'rollout/index.ts', summary: 'rollout plans per route and their analysis on Prometheus ([guide](rollout.md))' },
  { subpath: 'strangler-fig/cli', entry: 'cli/index.ts', summary: 'the `strangler` command line, to embed or wrap' },
];

export interface ApiEntry {
  name: string;
  kind: 'class' | 'function' | 'interface' | 'type' | 'const' | 'enum';
  signature: string;
  doc: string;
  members: Array<{ signature: string; doc: string }>;
}

function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).replace(/\s+/g, ' ').trim();
}

/** Declared in the project, not inherited from a library (Error's own statics, say). */
const isOwn = (declaration: ts.Declaration) => !declaration.getSourceFile().fileName.includes('node_modules');

/** The type as the source writes it (`ProxyConfig`), else as the checker prints it. */
function writtenType(checker: ts.TypeChecker, declaration: ts.Declaration | undefined, type: ts.Type, at: ts.Node): string {
  const annotation = declaration && (declaration as ts.Declaration & { type?: ts.TypeNode }).type;
  return annotation ? annotation.getText().replace(/\s+/g, ' ') : printed(checker, type, at);
}

const isPublic = (declaration: ts.Declaration) => {
  const flags = ts.getCombinedModifierFlags(declaration);
  return !(flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) && !((declaration as ts.NamedDeclaration).name && ts.isPrivateIdentifier((declaration as ts.NamedDeclaration).name!));
};

function printed(checker: ts.TypeChecker, type: ts.Type, at: ts.Node): string {
  return checker.typeToString(type, at, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType);
}

function callSignatures(checker: ts.TypeChecker, name: string, type: ts.Type, at: ts.Node): string[] {
  return type.getCallSignatures().map((signature) => `${name}${checker.signatureToString(signature, at, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType)}`);
}

function membersOf(checker: ts.TypeChecker, symbol: ts.Symbol, declaration: ts.ClassDeclaration | ts.InterfaceDeclaration): ApiEntry['members'] {
  const members: ApiEntry['members'] = [];
  const isClass = ts.isClassDeclaration(declaration);
  if (isClass) {
    const constructorType = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    for (const signature of constructorType.getConstructSignatures()) {
      if (signature.declaration && !isPublic(signature.declaration)) continue;
      const text = checker.signatureToString(signature, declaration, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType);
      members.push({ signature: `new ${symbol.name}${text.replace(/: [^:]+$/, '')}`, doc: '' });
    }
    for (const member of constructorType.getProperties()) {
      if (member.name === 'prototype' || !member.declarations?.some((d) => isPublic(d) && isOwn(d))) continue;
      const type = checker.getTypeOfSymbolAtLocation(member, declaration);
      const calls = callSignatures(checker, `static ${member.name}`, type, declaration);
      members.push(...(calls.length ? calls : [`static ${member.name}: ${writtenType(checker, member.declarations[0], type, declaration)}`]).map((signature) => ({ signature, doc: docOf(member, checker) })));
    }
  }
  const instanceType = checker.getDeclaredTypeOfSymbol(symbol);
  for (const member of instanceType.getProperties()) {
    const declarations = member.declarations ?? [];
    if (!declarations.some((d) => isPublic(d) && isOwn(d))) continue;
    const type = checker.getTypeOfSymbolAtLocation(member, declaration);
    const isMethod = declarations.some((d) => ts.isMethodDeclaration(d) || ts.isMethodSignature(d));
    const optional = member.flags & ts.SymbolFlags.Optional ? '?' : '';
    const readonly = declarations.some((d) => ts.getCombinedModifierFlags(d) & ts.ModifierFlags.Readonly) ? 'readonly ' : '';
    const signatures = isMethod ? callSignatures(checker, member.name, type, declaration) : [`${readonly}${member.name}${optional}: ${writtenType(checker, declarations[0], type, declaration)}`];
    for (const signature of signatures) members.push({ signature, doc: docOf(member, checker) });
  }
  return members;
}

/** Every export of one entry file, sorted by name. */
export function collectExports(program: ts.Program, entry: string): ApiEntry[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(path.join(ROOT, entry));
  if (!source) throw new Error(`${entry} is not part of the program`);
  const moduleSymbol = checker.getSymbolAtLocation(source)!;
  const entries: ApiEntry[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.[0];
    if (!declaration) continue;
    const name = exported.name;
    const doc = docOf(symbol, checker);
    if (ts.isClassDeclaration(declaration)) {
      entries.push({ name, kind: 'class', signature: `class ${name}`, doc, members: membersOf(checker, symbol, declaration) });
    } else if (ts.isInterfaceDeclaration(declaration)) {
      entries.push({ name, kind: 'interface', signature: `interface ${name}`, doc, members: membersOf(checker, symbol, declaration) });
    } else if (ts.isTypeAliasDeclaration(declaration)) {
      const text = declaration.type.getText().replace(/\s+/g, ' ');
      entries.push({ name, kind: 'type', signature: `type ${name}${declaration.typeParameters ? `<${declaration.typeParameters.map((p) => p.getText()).join(', ')}>` : ''} = ${text.length > 300 ? printed(checker, checker.getDeclaredTypeOfSymbol(symbol), declaration) : text}`, doc, members: [] });
    } else if (ts.isFunctionDeclaration(declaration)) {
      const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
      entries.push({ name, kind: 'function', signature: callSignatures(checker, name, type, declaration).join('\n'), doc, members: [] });
    } else if (ts.isEnumDeclaration(declaration)) {
      entries.push({ name, kind: 'enum', signature: `enum ${name}`, doc, members: [] });
    } else {
      const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
      const calls = callSignatures(checker, name, type, declaration);
      entries.push({ name, kind: calls.length ? 'function' : 'const', signature: calls.length ? calls.join('\n') : `const ${name}: ${printed(checker, type, declaration)}`, doc, members: [] });
    }
  }
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

export function createApiProgram(): ts.Program {
  const configFile = ts.readConfigFile(path.join(ROOT, 'tsconfig.build.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
  return ts.createProgram({ rootNames: SUBPATHS.map(({ entry }) => path.join(ROOT, entry)), options: { ...parsed.options, noEmit: true } });
}

const KIND_ORDER: ApiEntry['kind'][] = ['class', 'function', 'const', 'interface', 'type', 'enum'];
const KIND_TITLES: Record<ApiEntry['kind'], string> = { class: 'Classes', function: 'Functions', const: 'Constants', interface: 'Interfaces', type: 'Types', enum: 'Enums' };
const oneLine = (text: string) => text.replace(/\|/g, '\\|');

export function renderApi(program: ts.Program): string {
  const lines = [
    '# API reference',
    '',
    'Every public export of the `strangler-fig` package, by subpath. Generated from the TypeScript sources by',
    '`npm run docs:api` (signatures from the type checker, text from the doc comments); `test/docs/api.test.ts` fails',
    'when this file and the sources disagree. Options objects are validated once when a component is built: every',
    'problem is reported at once, with its path, and unknown keys are refused.',
    '',
    ...SUBPATHS.map(({ subpath, summary }) => `- [\`${subpath}\`](#${subpath.replace(/[^a-z0-9-]/g, '')}): ${summary}`),
    '',
  ];
  for (const { subpath, entry } of SUBPATHS) {
    lines.push(`## ${subpath}`, '', `\`import { ... } from '${subpath}'\` (source: [${entry}](../${entry}))`, '');
    const entries = collectExports(program, entry);
    for (const kind of KIND_ORDER) {
      const ofKind = entries.filter((item) => item.kind === kind);
      if (!ofKind.length) continue;
      lines.push(`### ${KIND_TITLES[kind]}`, '');
      for (const item of ofKind) {
        lines.push(`#### \`${item.name}\``, '', '```ts', item.signature, '```', '');
        if (item.doc) lines.push(item.doc, '');
        if (item.members.length) {
          lines.push('| member | description |', '|---|---|');
          for (const member of item.members) lines.push(`| \`${oneLine(member.signature)}\` | ${oneLine(member.doc)} |`);
          lines.push('');
        }
      }
    }
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

if (require.main === module) {
  const text = renderApi(createApiProgram());
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(API_FILE) ? fs.readFileSync(API_FILE, 'utf8') : '';
    if (current !== text) {
      console.error('docs/api.md is out of date: run npm run docs:api');
      process.exit(1);
    }
    console.log('docs/api.md matches the sources');
  } else if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log('Usage: npm run docs:api [-- --check]\n\nWrites docs/api.md from the sources; --check only compares and exits 1 when it differs.');
  } else {
    fs.writeFileSync(API_FILE, text);
    console.log(`wrote ${path.relative(process.cwd(), API_FILE)}: ${text.split('\n').length} lines`);
  }
}
