import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

/**
 * What the published package holds. Framework folders work in front of any monolith; the CLI sits on top of them.
 * None of them imports case-study, infra, test or bench code, and their packages come from `dependencies` only,
 * so an install with production dependencies runs them.
 */
export const FRAMEWORK_DIRS = ['errors', 'strangler-proxy', 'outbox', 'sync', 'rollout'] as const;
export const PACKAGED_DIRS = [...FRAMEWORK_DIRS, 'cli'] as const;

export interface BoundaryViolation {
  file: string;
  line: number;
  specifier: string;
  reason: string;
}

/** `import … from 'x'` and `export … from 'x'` (from the statement's start, so a string holding "from 'x'" is not one), `import('x')`, `require('x')`, `import 'x'`. */
const IMPORT_PATTERN = /(?:^\s*(?:import|export)\b[^'";]*?\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
const BUILTINS = new Set(builtinModules);

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(c|m)?[tj]s$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !file.split(path.sep).includes('node_modules'));
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function topFolder(rootDir: string, target: string): string {
  return path.relative(rootDir, target).split(path.sep)[0]!;
}

/**
 * Another component is entered through its surface: its folder (`index.ts`), or a sub-folder the package publishes
 * (`strangler-proxy/express`). Reaching past it couples the importer to that component's inside.
 */
function surfaceProblem(rootDir: string, surfaces: Set<string>, file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = path.relative(rootDir, path.resolve(path.dirname(file), specifier)).split(path.sep).join('/');
  const to = target.split('/')[0]!;
  if (to === topFolder(rootDir, file) || !(PACKAGED_DIRS as readonly string[]).includes(to)) return undefined;
  const folder = target.replace(/\/index$/, '');
  if (surfaces.has(folder)) return undefined;
  return `reaches into ${to}/ past its surface: import '${path.relative(path.dirname(file), path.join(rootDir, to)).split(path.sep).join('/')}' (${to}/index.ts) and export what is needed there`;
}

/** The folders other components may import: each packaged folder, and each sub-folder in package.json's exports. */
function surfacesOf(manifest: { exports?: Record<string, unknown> }): Set<string> {
  const surfaces = new Set<string>(PACKAGED_DIRS);
  for (const target of Object.values(manifest.exports ?? {})) {
    const built = typeof target === 'object' && target !== null ? (target as { default?: string }).default : undefined;
    const match = built && /^\.\/dist\/(.+)\/index\.js$/.exec(built);
    if (match) surfaces.add(match[1]!);
  }
  return surfaces;
}

function problem(rootDir: string, runtimePackages: Set<string>, file: string, specifier: string): string | undefined {
  const from = topFolder(rootDir, file);
  if (specifier.startsWith('.')) {
    const to = topFolder(rootDir, path.resolve(path.dirname(file), specifier));
    if (!(PACKAGED_DIRS as readonly string[]).includes(to)) return `${from}/ is packaged and may not import ${to}/ (only ${PACKAGED_DIRS.join(', ')})`;
    if (to === 'cli' && from !== 'cli') return `framework code may not import the CLI`;
    return undefined;
  }
  if (specifier.startsWith('node:') || BUILTINS.has(specifier)) return undefined;
  const name = packageName(specifier);
  if (runtimePackages.has(name)) return undefined;
  return `package '${name}' is not in package.json dependencies (an install with production dependencies lacks it)`;
}

/**
 * The case study's layers, bottom up: the service kit sits on the framework; the monolith and each extracted
 * service sit on the kit and never import each other (nor one service another); the composition in case-study/
 * (the demo stack, the mapping, traffic) is the only code that sees them all.
 */
function caseStudyProblem(rootDir: string, file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const parts = path.relative(rootDir, path.resolve(path.dirname(file), specifier)).split(path.sep);
  const from = path.relative(rootDir, file).split(path.sep);
  const [fromTop, toTop] = [from[0]!, parts[0]!];
  const shared = ['service-kit', ...FRAMEWORK_DIRS];
  if (fromTop === 'service-kit' && !shared.includes(toTop)) return `the service kit may import only the framework (${FRAMEWORK_DIRS.join(', ')}), not ${toTop}/`;
  if (fromTop === 'legacy-monolith' && toTop !== 'legacy-monolith' && !shared.includes(toTop)) return `the monolith may import only service-kit/ and the framework, not ${toTop}/`;
  if (fromTop === 'extracted') {
    if (toTop === 'extracted' && parts[1] !== from[1]) return `extracted/${from[1]}/ may not import another service (extracted/${parts[1]}/): call its API`;
    if (toTop !== 'extracted' && !shared.includes(toTop)) return `a service may import only service-kit/ and the framework, not ${toTop}/`;
  }
  return undefined;
}

export const CASE_STUDY_DIRS = ['service-kit', 'legacy-monolith', 'extracted'] as const;

export function findBoundaryViolations(rootDir: string): BoundaryViolation[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(rootDir, 'package.json'), 'utf8')) as { dependencies?: object; peerDependencies?: object; exports?: Record<string, unknown> };
  const surfaces = surfacesOf(manifest);
  const runtimePackages = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  const violations: BoundaryViolation[] = [];
  for (const dir of PACKAGED_DIRS) {
    for (const file of sourceFiles(path.join(rootDir, dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const match of text.matchAll(IMPORT_PATTERN)) {
        const specifier = match[1]!;
        const reason = problem(rootDir, runtimePackages, file, specifier) ?? surfaceProblem(rootDir, surfaces, file, specifier);
        if (!reason) continue;
        const line = text.slice(0, match.index).split('\n').length;
        violations.push({ file: path.relative(rootDir, file), line, specifier, reason });
      }
    }
  }
  for (const dir of CASE_STUDY_DIRS) {
    for (const file of sourceFiles(path.join(rootDir, dir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const match of text.matchAll(IMPORT_PATTERN)) {
        const reason = caseStudyProblem(rootDir, file, match[1]!) ?? surfaceProblem(rootDir, surfaces, file, match[1]!);
        if (!reason) continue;
        violations.push({ file: path.relative(rootDir, file), line: text.slice(0, match.index).split('\n').length, specifier: match[1]!, reason });
      }
    }
  }
  return violations;
}

if (require.main === module) {
  const violations = findBoundaryViolations(path.resolve(__dirname, '..'));
  for (const violation of violations) console.error(`${violation.file}:${violation.line}: '${violation.specifier}': ${violation.reason}`);
  if (violations.length) process.exit(1);
  console.log(`boundaries: ${PACKAGED_DIRS.join(', ')} import only each other (never cli from the framework) and production dependencies;`);
  console.log('            service-kit/ only the framework; legacy-monolith/ and each extracted/<service>/ only service-kit/ and the framework');
}
