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
  it('flags imports, dynamic imports and requires from framework code into case-study or CLI code', () => {
    const root = tree({
      'strangler-proxy/a.ts': "import { x } from '../legacy-monolith/repo';\nimport fs from 'node:fs';\n",
      'outbox/deep/b.ts': "const y = require('../../extracted/orders');\nexport const z = () => import('../../cli/index');\n",
      'outbox/ok.ts': "import { append } from './writer';\nimport type { T } from '../strangler-proxy/types';\n",
      'cli/index.ts': "import { relay } from '../outbox';\n",
    });
    const violations = findBoundaryViolations(root);
    expect(violations).toHaveLength(3);
    expect(violations).toEqual(
      expect.arrayContaining([
        { file: path.join('strangler-proxy', 'a.ts'), line: 1, specifier: '../legacy-monolith/repo' },
        { file: path.join('outbox', 'deep', 'b.ts'), line: 1, specifier: '../../extracted/orders' },
        { file: path.join('outbox', 'deep', 'b.ts'), line: 2, specifier: '../../cli/index' },
      ]),
    );
  });

  it('passes on the real tree', () => {
    expect(findBoundaryViolations(path.resolve(__dirname, '..', '..'))).toEqual([]);
  });
});
