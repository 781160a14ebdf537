import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import ts from 'typescript';
import YAML from 'yaml';
import { relayInput } from '../../cli/commands/relay';
import { parseRelayOptions } from '../../outbox';
import { parseProxyConfig } from '../../strangler-proxy';
import { parseMapping } from '../../sync';

const ROOT = path.resolve(__dirname, '../..');
const BASE = path.join(ROOT, 'deploy/kubernetes/base');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- walked per kind below, after schema validation
  data?: Record<string, string>;
}

/** The kubernetes-models module and type of an object: apps/v1 Deployment -> kubernetes-models/apps/v1/Deployment, IDeployment. */
const modelPath = (object: K8sObject) => `kubernetes-models/${object.apiVersion}/${object.kind}`;

/**
 * Unknown keys, which the models' runtime validators let through: each object becomes an object literal typed
 * with its kind's interface, and TypeScript's excess-property check names every key the schema does not have.
 */
function typeErrors(objects: K8sObject[]): string[] {
  const file = path.join(__dirname, '__manifests__.ts');
  const source =
    objects.map((object, index) => `import type { I${object.kind} as T${index} } from '${modelPath(object)}';`).join('\n') +
    '\n' +
    objects.map((object, index) => `export const o${index}: T${index} = ${JSON.stringify(object)};`).join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16, target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (name) => (name === file ? source : readFile(name));
  host.fileExists = (name) => name === file || fileExists(name);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const line = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line : -1;
    const object = line >= objects.length ? objects[line - objects.length] : undefined;
    return `${object ? `${object.kind}/${object.metadata.name}` : 'imports'}: ${message}`;
  });
}

const podLabels = (object: K8sObject): Record<string, string> => object.spec.template.metadata.labels;
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('deploy/: the Kubernetes base and the Dockerfile (validated offline: no cluster, no container engine)', () => {
  let objects: K8sObject[];
  const byKind = (kind: string) => objects.filter((object) => object.kind === kind);
  const named = (kind: string, name: string) => {
    const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
    if (!found) throw new Error(`no ${kind}/${name} in the build`);
    return found;
  };
  const configMapFile = (prefix: string, file: string) => {
    const map = byKind('ConfigMap').find((object) => object.metadata.name.startsWith(`${prefix}-`));
    const text = map?.data?.[file];
    if (text === undefined) throw new Error(`no ${file} in a ConfigMap ${prefix}-*`);
    return YAML.parse(text) as Record<string, unknown>;
  };

  beforeAll(() => {
    const built = execFileSync('kubectl', ['kustomize', BASE], { encoding: 'utf8' });
    objects = YAML.parseAllDocuments(built).map((document) => document.toJS() as K8sObject);
  });

  it('builds with kubectl kustomize into the documented objects', () => {
    const kinds = objects.map((object) => `${object.kind}/${object.metadata.name.replace(/-[a-z0-9]{10}$/, '-<hash>')}`).sort();
    expect(kinds).toEqual([
      'ConfigMap/strangler-env-<hash>',
      'ConfigMap/strangler-proxy-config-<hash>',
      'ConfigMap/strangler-relay-config-<hash>',
      'ConfigMap/strangler-sync-config-<hash>',
      'Deployment/strangler-proxy',
      'Deployment/strangler-relay-catalog',
      'Deployment/strangler-relay-library',
      'Deployment/strangler-sync-into-legacy',
      'Deployment/strangler-sync-into-service',
      'HorizontalPodAutoscaler/strangler-proxy',
      'PodDisruptionBudget/strangler-proxy',
      'PodDisruptionBudget/strangler-relay',
      'Service/strangler-proxy',
      'Service/strangler-proxy-admin',
    ]);
  });

  it('every object validates against its Kubernetes schema (kubernetes-models), unknown keys included', () => {
    const problems: string[] = [];
    for (const object of objects) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the model of each kind, chosen at run time
      const Model = (require(modelPath(object)) as Record<string, new (data: unknown) => { validate(): void }>)[object.kind]!;
      try {
        new Model(object).validate();
      } catch (error) {
        problems.push(`${object.kind}/${object.metadata.name}: ${(error as Error).message}`);
      }
    }
    problems.push(...typeErrors(objects));
    expect(problems).toEqual([]);
  }, 60_000);

  it('the schema check catches what it should: a misspelt key and a string port', () => {
    const misspelt = structuredClone(named('Deployment', 'strangler-proxy'));
    misspelt.spec.template.spec.containers[0].imagePullPolice = 'Always';
    expect(typeErrors([misspelt]).join('\n')).toMatch(/Deployment\/strangler-proxy: .*'"imagePullPolice"' does not exist in type 'IContainer'/);
    const stringPort = structuredClone(named('Deployment', 'strangler-proxy'));
    stringPort.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    expect(typeErrors([stringPort]).join('\n')).toMatch(/Deployment\/strangler-proxy: Type 'string' is not assignable to type 'number'/);
    expect(() => new Deployment(stringPort as never).validate()).toThrow(/containerPort must be integer/);
  }, 60_000);

  it('the ConfigMaps hold configurations the framework accepts, and the probes point at the ports they configure', () => {
    const proxy = parseProxyConfig(configMapFile('strangler-proxy-config', 'proxy.yaml'), { STRANGLER_ADMIN_TOKEN: 'token-from-the-secret', UNLEASH_URL: 'http://unleash:4242/api', UNLEASH_CLIENT_TOKEN: 'client-token' });
    const container = named('Deployment', 'strangler-proxy').spec.template.spec.containers[0];
    const port = (name: string) => container.ports.find((entry: { name: string }) => entry.name === name).containerPort as number;
    expect([port('http'), port('admin'), port('probes')]).toEqual([proxy.proxy.port, proxy.admin.port, proxy.probes!.port]);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'probes' });
    expect(proxy.flags.provider === 'unleash' && proxy.flags.unleash.backupDir).toBe('/var/lib/strangler/unleash-backup');
    expect(container.volumeMounts.map((mount: { mountPath: string }) => mount.mountPath)).toContain('/var/lib/strangler');

    for (const [deployment, file] of [['strangler-relay-library', 'relay-legacy.yaml'], ['strangler-relay-catalog', 'relay-catalog.yaml']] as const) {
      const relay = parseRelayOptions(relayInput({ DATABASE_URL: 'postgres://app@db/x', KAFKA_BROKERS: 'kafka:9092' }, configMapFile('strangler-relay-config', file), {}));
      expect(relay.topics).toEqual({ partitions: 6, replicationFactor: 3, minInsyncReplicas: 2 });
      const spec = named('Deployment', deployment).spec;
      expect(spec.replicas).toBe(2); // a leader and a hot standby on the advisory lock
      expect(spec.template.spec.containers[0].args).toEqual(['relay', '--config', `/etc/strangler/${file}`, '--metrics-port', '9400']);
    }
    const mapping = parseMapping(configMapFile('strangler-sync-config', 'mapping.yaml'));
    expect([...mapping.aggregates.keys()]).toEqual(['book']);
  });

  it('wires selectors, references and security the way the pods need', () => {
    const deployments = byKind('Deployment');
    const configMaps = new Set(byKind('ConfigMap').map((object) => object.metadata.name));
    for (const deployment of deployments) {
      expect(selects(deployment.spec.selector.matchLabels, podLabels(deployment))).toBe(true);
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      for (const container of pod.containers) {
        expect(container.image).toBe('registry.example.com/strangler-fig:0.1.0');
        expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(container.livenessProbe.httpGet.path).toBe('/healthz');
        expect(container.resources.requests.cpu).toBeDefined();
        for (const source of container.envFrom ?? []) expect(configMaps).toContain(source.configMapRef.name);
      }
      for (const volume of pod.volumes ?? []) if (volume.configMap) expect(configMaps).toContain(volume.configMap.name);
    }
    for (const service of byKind('Service')) {
      expect(deployments.filter((deployment) => selects(service.spec.selector, podLabels(deployment))).map((deployment) => deployment.metadata.name)).toEqual(['strangler-proxy']);
    }
    for (const budget of byKind('PodDisruptionBudget')) {
      expect(deployments.some((deployment) => selects(budget.spec.selector.matchLabels, podLabels(deployment)))).toBe(true);
    }
    const hpa = named('HorizontalPodAutoscaler', 'strangler-proxy');
    expect(named(hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name).metadata.name).toBe('strangler-proxy');
    expect(named('Service', 'strangler-proxy-admin').spec.clusterIP).toBe('None');
  });

  it('the Dockerfile builds in two stages from the packed package and runs as the non-root user the pods expect', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8');
    const instructions = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').filter((line) => /^[A-Z]+ /.test(line));
    const stages = instructions.filter((line) => line.startsWith('FROM '));
    expect(stages.map((line) => line.split(' AS ')[1])).toEqual(['build', 'runtime']);
    const runtime = instructions.slice(instructions.indexOf(stages[1]!));
    expect(dockerfile).toMatch(/npm pack --pack-destination \/out/);
    expect(runtime).toContain('COPY --from=build /out/strangler-fig.tgz /tmp/strangler-fig.tgz');
    expect(runtime.filter((line) => line.startsWith('COPY') && !line.includes('--from=build'))).toEqual([]);
    expect(runtime.join('\n')).toMatch(/npm install --omit=dev/);
    expect(runtime.filter((line) => line.startsWith('USER '))).toEqual(['USER 1000:1000']);
    expect(runtime.at(-2)).toBe('ENTRYPOINT ["strangler"]');
    const ignored = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });
});
