import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBoundaryViolations } from '../../infra/check-boundaries';

function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sfg-boundaries-'));
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  }
  return root;
}

describe('framework import boundaries', () => {
  it('flags imports from packaged code into case-study, infra or other code, framework imports of the CLI, and dev-only packages', () => {
    const root = tree({
      'package.json': JSON.stringify({ dependencies: { pg: '1' }, devDependencies: { tsx: '1' } }),
      'strangler-proxy/a.ts': "import { x } from '../legacy-monolith/repo';\nimport fs from 'node:fs';\nimport { Pool } from 'pg';\n",
      'outbox/deep/b.ts': "const y = require('../../extracted/orders');\nexport const z = () => import('../../cli/index');\n",
      'outbox/ok.ts': "import { append } from './writer';\nimport type { T } from '../strangler-proxy';\nconst text = `not an import: '.from' + 'x'`;\n",
      'sync/c.ts': "import {\n  up,\n} from '../infra';\nimport 'tsx/cjs';\n",
      'cli/index.ts': "import { relay } from '../outbox';\nimport { stack } from '../extracted/stack';\n",
    });
    const violations = findBoundaryViolations(root);
    expect(violations.map(({ file, line, specifier }) => ({ file, line, specifier }))).toEqual(
      expect.arrayContaining([
        { file: path.join('strangler-proxy', 'a.ts'), line: 1, specifier: '../legacy-monolith/repo' },
        { file: path.join('outbox', 'deep', 'b.ts'), line: 1, specifier: '../../extracted/orders' },
        { file: path.join('outbox', 'deep', 'b.ts'), line: 2, specifier: '../../cli/index' },
        { file: path.join('sync', 'c.ts'), line: 1, specifier: '../infra' },
        { file: path.join('sync', 'c.ts'), line: 4, specifier: 'tsx/cjs' },
        { file: path.join('cli', 'index.ts'), line: 2, specifier: '../extracted/stack' },
      ]),
    );
    expect(violations).toHaveLength(6);
    expect(violations.find((violation) => violation.specifier === 'tsx/cjs')!.reason).toContain("package 'tsx' is not in package.json dependencies");
  });

  it('keeps the case study one way: kit below the monolith and the services, which never import each other', () => {
    const root = tree({
      'package.json': JSON.stringify({ dependencies: {} }),
      'service-kit/a.ts': "import { append } from '../outbox';\nimport { x } from '../legacy-monolith';\n",
      'legacy-monolith/b.ts': "import { kit } from '../service-kit';\nimport { helper } from './data/tables';\nimport { c } from '../extracted/catalog';\nimport { s } from '../case-study';\n",
      'extracted/orders/c.ts': "import { kit } from '../../service-kit';\nimport { own } from './orders';\nimport { p } from '../catalog/products';\nimport { m } from '../../legacy-monolith';\n",
      'case-study/d.ts': "import { m } from '../legacy-monolith';\nimport { o } from '../extracted/orders';\n",
    });
    const violations = findBoundaryViolations(root);
    expect(violations.map(({ file, line, specifier }) => ({ file, line, specifier }))).toEqual([
      { file: path.join('service-kit', 'a.ts'), line: 2, specifier: '../legacy-monolith' },
      { file: path.join('legacy-monolith', 'b.ts'), line: 3, specifier: '../extracted/catalog' },
      { file: path.join('legacy-monolith', 'b.ts'), line: 4, specifier: '../case-study' },
      { file: path.join('extracted', 'orders', 'c.ts'), line: 3, specifier: '../catalog/products' },
      { file: path.join('extracted', 'orders', 'c.ts'), line: 4, specifier: '../../legacy-monolith' },
    ]);
    expect(violations[3]!.reason).toContain('call its API');
  });

  it("enters another component only through its index.ts or a sub-folder the package publishes", () => {
    const root = tree({
      'package.json': JSON.stringify({ dependencies: {}, exports: { './express': { types: './dist/strangler-proxy/express/index.d.ts', default: './dist/strangler-proxy/express/index.js' } } }),
      'rollout/a.ts': [
        "import { proxy } from '../strangler-proxy';",
        "import { same } from '../strangler-proxy/index';",
        "import { middleware } from '../strangler-proxy/express';",
        "import { own } from './console/page';",
        "import { interpolate } from '../strangler-proxy/options';",
        "import { Exchange } from '../strangler-proxy/forward';",
        '',
      ].join('\n'),
      'service-kit/b.ts': "import { append } from '../outbox';\nimport { markOrigin } from '../outbox/capture';\n",
    });
    const violations = findBoundaryViolations(root);
    expect(violations.map(({ file, line, specifier }) => ({ file, line, specifier }))).toEqual([
      { file: path.join('rollout', 'a.ts'), line: 5, specifier: '../strangler-proxy/options' },
      { file: path.join('rollout', 'a.ts'), line: 6, specifier: '../strangler-proxy/forward' },
      { file: path.join('service-kit', 'b.ts'), line: 2, specifier: '../outbox/capture' },
    ]);
    expect(violations[0]!.reason).toBe("reaches into strangler-proxy/ past its surface: import '../strangler-proxy' (strangler-proxy/index.ts) and export what is needed there");
  });

  it('passes on the real tree', () => {
    expect(findBoundaryViolations(path.resolve(__dirname, '..', '..'))).toEqual([]);
  });
});
