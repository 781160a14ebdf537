import fs from 'node:fs';
import path from 'node:path';
import { StranglerError } from '../../errors';
import { ERROR_COMPONENTS, ERRORS_FILE, renderErrors, type ErrorComponent } from '../../docs/generate-errors';
import { UsageError } from '../../cli/command';
import { InfraError } from '../../infra/errors';
import { InvalidEventError, OutboxError } from '../../outbox/errors';
import { RolloutError } from '../../rollout/errors';
import { CaseStudyError, NotFoundError } from '../../service-kit/errors';
import { ProxyError, upstreamTimeoutError } from '../../strangler-proxy/errors';
import { SyncError, UntranslatableError } from '../../sync';

const ROOT = path.resolve(__dirname, '../..');
/** Code that ships or runs: every top-level folder but tests, docs, build output and local state. */
const SKIPPED = new Set(['node_modules', 'dist', 'test', 'docs', '.infra', '.git', 'coverage']);
const SOURCE = /\.(c|m)?[tj]s$/;
const LITERAL = /(['"`])(SFG_[A-Z0-9_]+)\1/g;
/** A code put together at run time (`SFG_X_${kind}`) escapes both the typecheck and this test. */
const BUILT = /`SFG_[A-Z0-9_]*\$\{(?!string\})/g;

interface Use {
  code: string;
  file: string;
  line: number;
}

function sourceFiles(): string[] {
  return fs
    .readdirSync(ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !SKIPPED.has(entry.name) && !entry.name.startsWith('.'))
    .flatMap((entry) => fs.readdirSync(path.join(ROOT, entry.name), { recursive: true, encoding: 'utf8' }).map((file) => path.join(entry.name, file)))
    .filter((file) => SOURCE.test(file) && !file.split(path.sep).includes('node_modules') && fs.statSync(path.join(ROOT, file)).isFile());
}

const files = sourceFiles();
const uses: Use[] = [];
const built: Use[] = [];
for (const file of files) {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  for (const match of text.matchAll(LITERAL)) uses.push({ code: match[2]!, file, line: lineOf(match.index) });
  for (const match of text.matchAll(BUILT)) built.push({ code: match[0], file, line: lineOf(match.index) });
}

const owner = (code: string): ErrorComponent | undefined => ERROR_COMPONENTS.find((component) => component.prefixes.some((prefix) => code.startsWith(prefix)));
const inDirs = (component: ErrorComponent, file: string) => component.dirs.includes(file.split(path.sep)[0]!);
const where = (use: Use) => `${use.file}:${use.line} ${use.code}`;

describe('error codes (docs/errors.md)', () => {
  it('scans the sources', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(uses.length).toBeGreaterThan(100);
  });

  it('docs/errors.md is what the lists generate (run npm run docs:errors after changing a list)', () => {
    expect(fs.readFileSync(ERRORS_FILE, 'utf8')).toBe(renderErrors());
  });

  it('documents every code with what it means and what to do', () => {
    const text = fs.readFileSync(ERRORS_FILE, 'utf8');
    for (const component of ERROR_COMPONENTS) {
      for (const [code, info] of Object.entries(component.codes)) {
        expect(`${code}: ${info.means.trim().length > 10 && info.fix.trim().length > 5}`).toBe(`${code}: true`);
        expect(text).toContain(`### \`${code}\`\n\n${info.means}\n\n**What to do:** ${info.fix}\n`);
      }
    }
  });

  it('lists each code in one component only', () => {
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const component of ERROR_COMPONENTS) {
      for (const code of Object.keys(component.codes)) {
        if (seen.has(code)) duplicates.push(`${code} (${seen.get(code)} and ${component.name})`);
        seen.set(code, component.name);
      }
    }
    expect(duplicates).toEqual([]);
  });

  it("gives each component's codes its own prefix, and no two components the same prefix", () => {
    const wrong = ERROR_COMPONENTS.flatMap((component) =>
      Object.keys(component.codes)
        .filter((code) => !component.prefixes.some((prefix) => code.startsWith(prefix)) || !/^SFG_[A-Z0-9]+(_[A-Z0-9]+)+$/.test(code))
        .map((code) => `${component.name}: ${code}`),
    );
    expect(wrong).toEqual([]);
    const prefixes = ERROR_COMPONENTS.flatMap((component) => component.prefixes);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });

  it('builds no code at run time from pieces', () => {
    expect(built.map(where)).toEqual([]);
  });

  it("lists every code the sources use in its component's list (an unknown prefix is a mistake too)", () => {
    const unknown = uses.filter((use) => !(use.code in (owner(use.code)?.codes ?? {})));
    expect(unknown.map(where)).toEqual([]);
  });

  it('uses every listed code in its own component', () => {
    const unused = ERROR_COMPONENTS.flatMap((component) =>
      Object.keys(component.codes)
        .filter((code) => !uses.some((use) => use.code === code && inDirs(component, use.file)))
        .map((code) => `${component.name}: ${code}`),
    );
    expect(unused).toEqual([]);
  });

  it("throws each component's codes from its own folders only (others may compare with them)", () => {
    const strays = uses.filter((use) => {
      const component = owner(use.code);
      if (!component || inDirs(component, use.file)) return false;
      const text = fs.readFileSync(path.join(ROOT, use.file), 'utf8').split('\n')[use.line - 1]!;
      return new RegExp(`\\bnew \\w+Error\\(\\s*['"\`]${use.code}['"\`]`).test(text);
    });
    expect(strays.map(where)).toEqual([]);
  });

  it('shares one base class: code, retriable, cause, and name = the class name', () => {
    const cause = new Error('below');
    const errors: StranglerError[] = [
      new ProxyError('SFG_PROXY_STOPPED', 'm', { cause }),
      upstreamTimeoutError('service'),
      new OutboxError('SFG_OUTBOX_ABORTED', 'm', { retriable: true }),
      new InvalidEventError('type', 'm'),
      new SyncError('SFG_SYNC_CONFLICT', 'm'),
      new UntranslatableError('m'),
      new RolloutError('SFG_ROLLOUT_NOT_FOUND', 'm'),
      new UsageError('m'),
      new CaseStudyError('SFG_CASE_INTERNAL', 500, 'm'),
      new NotFoundError('order', '1'),
      new InfraError('SFG_INFRA_START_FAILED', 'm'),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(StranglerError);
      expect(error.name).toBe(error.constructor.name);
      expect(owner(error.code)?.codes).toHaveProperty(error.code);
      expect(typeof error.retriable).toBe('boolean');
    }
    expect(errors[0]!.cause).toBe(cause);
    expect([errors[1]!.retriable, errors[2]!.retriable, errors[4]!.retriable]).toEqual([true, true, false]);
  });
});
