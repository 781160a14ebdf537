import fs from 'node:fs';
import path from 'node:path';

/** Framework folders must stay usable in front of any monolith: they never import case-study or CLI code. */
export const FRAMEWORK_DIRS = ['strangler-proxy', 'outbox'] as const;
export const FORBIDDEN_DIRS = ['legacy-monolith', 'extracted', 'cli'] as const;

export interface BoundaryViolation {
  file: string;
  line: number;
  specifier: string;
}

const IMPORT_PATTERN = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(c|m)?[tj]s$/.test(entry.name))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => !file.split(path.sep).includes('node_modules'));
}

export function findBoundaryViolations(rootDir: string): BoundaryViolation[] {
  const forbidden = FORBIDDEN_DIRS.map((dir) => path.join(rootDir, dir) + path.sep);
  const violations: BoundaryViolation[] = [];
  for (const frameworkDir of FRAMEWORK_DIRS) {
    for (const file of sourceFiles(path.join(rootDir, frameworkDir))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const match of text.matchAll(IMPORT_PATTERN)) {
        const specifier = match[1]!;
        if (!specifier.startsWith('.')) continue;
        const target = path.resolve(path.dirname(file), specifier) + path.sep;
        if (forbidden.some((dir) => target.startsWith(dir))) {
          const line = text.slice(0, match.index).split('\n').length;
          violations.push({ file: path.relative(rootDir, file), line, specifier });
        }
      }
    }
  }
  return violations;
}

if (require.main === module) {
  const violations = findBoundaryViolations(path.resolve(__dirname, '..'));
  for (const violation of violations) {
    console.error(`${violation.file}:${violation.line}: framework code imports '${violation.specifier}' (${FORBIDDEN_DIRS.join(', ')} are off limits)`);
  }
  if (violations.length) process.exit(1);
  console.log(`boundaries: ${FRAMEWORK_DIRS.join(', ')} import nothing from ${FORBIDDEN_DIRS.join(', ')}`);
}
