import type { AdminAnswer, AdminRequest } from '../admin';
import type { SharedWrite } from '../consistency';
import type { ProxyConfig } from '../options';

/** What a primary sends a worker over the node:cluster IPC channel. */
export type ToWorker =
  | { sfg: 'start'; index: number; config: ProxyConfig }
  | { sfg: 'admin'; id: number; request: AdminRequest }
  | { sfg: 'metrics'; id: number }
  | { sfg: 'reload'; id: number; config: ProxyConfig }
  | { sfg: 'write'; write: SharedWrite }
  | { sfg: 'stop' };

/** What a worker sends its primary. `answer` and `failed` settle the request with the same `id`. */
export type FromWorker =
  | { sfg: 'hello' }
  | { sfg: 'ready'; address: string }
  | { sfg: 'start-failed'; error: string }
  | { sfg: 'answer'; id: number; answer: AdminAnswer | unknown }
  | { sfg: 'failed'; id: number; error: string }
  | { sfg: 'write'; write: SharedWrite };

export function isMessage<T extends { sfg: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { sfg?: unknown }).sfg === 'string';
}
