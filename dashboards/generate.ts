import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARDS_DIR, renderArtifacts } from './artifacts';

/** `npm run dashboards`: writes the Grafana dashboards and Prometheus rule files generated from dashboards/*.ts. */
function main(): void {
  for (const artifact of renderArtifacts()) {
    const target = path.join(DASHBOARDS_DIR, artifact.file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const unchanged = fs.existsSync(target) && fs.readFileSync(target, 'utf8') === artifact.content;
    if (!unchanged) fs.writeFileSync(target, artifact.content);
    console.log(`${unchanged ? 'unchanged' : 'wrote    '} dashboards/${artifact.file}`);
  }
}

main();
