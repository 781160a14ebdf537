import cluster from 'node:cluster';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FlagProvider } from '../flags/provider';
import type { ProxyConfig } from '../options';
import { StranglerProxy } from '../proxy';
import { isMessage, type FromWorker, type ToWorker } from './messages';

export interface ProxyWorkerDeps {
  logger: Logger;
  registry: Registry;
  /** The flag provider for the config the primary hands over (`createFlagProvider`). */
  createFlags: (flags: ProxyConfig['flags']) => FlagProvider;
}

const send = (message: FromWorker) => {
  if (process.connected) process.send!(message);
};

/**
 * The worker side of `ProxyWorkers`: waits for its config from the primary, serves traffic on the shared port, and
 * answers the primary's admin, metrics and reload requests. Resolves once the proxy has stopped: on the primary's
 * `stop`, SIGTERM or SIGINT, or when the primary is gone.
 */
export function runProxyWorker(deps: ProxyWorkerDeps): Promise<void> {
  if (!cluster.isWorker || !process.send) throw new Error('runProxyWorker runs in a node:cluster worker that ProxyWorkers forked');
  return new Promise<void>((resolve) => {
    let proxy: StranglerProxy | undefined;
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (proxy?.stop() ?? Promise.resolve()).then(() => {
        process.off('message', onMessage);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        process.off('disconnect', stop);
        if (process.connected) process.disconnect();
        resolve();
      });
    };
    const answer = (id: number, work: () => unknown) => {
      Promise.resolve()
        .then(work)
        .then(
          (result) => send({ sfg: 'answer', id, answer: result }),
          (error: Error) => send({ sfg: 'failed', id, error: error.message }),
        );
    };
    const onMessage = (message: unknown) => {
      if (!isMessage<ToWorker>(message)) return;
      switch (message.sfg) {
        case 'start':
          void start(message.index, message.config);
          return;
        case 'admin':
          return answer(message.id, () => proxy!.answerAdmin(message.request));
        case 'metrics':
          return answer(message.id, () => deps.registry.getMetricsAsJSON());
        case 'reload':
          return answer(message.id, () => proxy!.reload(message.config));
        case 'write':
          return proxy?.learnWrite(message.write);
        case 'stop':
          return stop();
      }
    };
    const start = async (index: number, config: ProxyConfig) => {
      if (proxy) return;
      const logger = deps.logger.child({ worker: index });
      proxy = new StranglerProxy(
        { config, serveAdmin: false, onWrite: (write) => send({ sfg: 'write', write }) },
        { logger, registry: deps.registry, flags: deps.createFlags(config.flags) },
      );
      try {
        await proxy.start();
        send({ sfg: 'ready', address: proxy.address.proxy });
      } catch (error) {
        send({ sfg: 'start-failed', error: (error as Error).message });
        stop();
      }
    };
    process.on('message', onMessage);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('disconnect', stop);
    send({ sfg: 'hello' });
  });
}
