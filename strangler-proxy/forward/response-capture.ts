/** The primary's response body kept for a shadow comparison, up to a limit past which the comparison is dropped. */
export class ResponseCapture {
  private chunks: Buffer[] | undefined = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  add(chunk: Buffer): void {
    if (!this.chunks) return;
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) this.chunks = undefined;
    else this.chunks.push(chunk);
  }

  /** The whole body, or undefined when it outgrew the limit. */
  body(): Buffer | undefined {
    return this.chunks && Buffer.concat(this.chunks);
  }
}
