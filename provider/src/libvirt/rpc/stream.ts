// A libvirt data stream (volume upload/download) as a node Duplex with backpressure.
// Protocol: data travels as STREAM packets with status CONTINUE. The daemon marks the end of
// its data with an empty CONTINUE packet. The client "finishes" with an empty STREAM OK (after
// its last byte, for an upload) and the daemon confirms with an empty STREAM OK. ERROR aborts.
import { Duplex } from "node:stream";
import { MessageStatus, STREAM_CHUNK_BYTES } from "../protocol/packet";

export interface StreamIo {
  /** Sends one STREAM packet; false means the socket buffer is full. */
  send(status: MessageStatus, data?: Buffer): boolean;
  onDrain(cb: () => void): void;
  pause(): void;
  resume(): void;
  description: string;
}

export class RpcStream extends Duplex {
  private finished = false;
  private finishCallbacks: Array<(err?: Error | null) => void> = [];
  private paused = false;
  /** The daemon sent the end of its data (download). */
  private remoteEnded = false;

  constructor(private readonly io: StreamIo) {
    super({ allowHalfOpen: true });
  }

  _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    let flowing = true;
    try {
      for (let off = 0; off < chunk.length; off += STREAM_CHUNK_BYTES) {
        flowing =
          this.io.send(MessageStatus.Continue, chunk.subarray(off, off + STREAM_CHUNK_BYTES)) &&
          flowing;
      }
    } catch (err) {
      return callback(err as Error);
    }
    if (flowing) callback();
    else this.io.onDrain(() => callback());
  }

  _final(callback: (err?: Error | null) => void): void {
    if (this.finished) return callback();
    this.finish(callback);
  }

  _read(): void {
    if (this.paused) {
      this.paused = false;
      this.io.resume();
    }
  }

  _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.finished) {
      this.finished = true;
      try {
        this.io.send(MessageStatus.Error); // abort: the daemon discards the transfer
      } catch {
        // the connection is gone already
      }
    }
    if (this.paused) this.io.resume();
    callback(err);
  }

  /** Sends the client's finish and calls back when the daemon confirms it. */
  private finish(callback: (err?: Error | null) => void): void {
    this.finishCallbacks.push(callback);
    if (this.finishCallbacks.length === 1) this.io.send(MessageStatus.Ok);
  }

  /** A STREAM packet from the daemon. */
  receive(status: MessageStatus, data: Buffer, hole: boolean): void {
    if (hole) return; // sparse holes are only sent when asked for; we never ask
    // Data still in flight after we aborted: drop it. Pausing for it would stall the whole
    // socket, and with it every later call on this connection.
    if (this.destroyed) return;
    if (status === MessageStatus.Continue && data.length > 0) {
      if (!this.push(data) && !this.paused) {
        this.paused = true;
        this.io.pause();
      }
      return;
    }
    if (status === MessageStatus.Ok && this.finishCallbacks.length) {
      // The daemon confirmed our finish.
      this.finished = true;
      const callbacks = this.finishCallbacks;
      this.finishCallbacks = [];
      for (const cb of callbacks) cb();
      if (!this.remoteEnded) {
        // An upload: there is nothing to read, so end the readable side and let it close.
        this.push(null);
        this.resume();
      }
      return;
    }
    // End of the daemon's data (download), an empty CONTINUE: finish, then end our writable side too.
    this.remoteEnded = true;
    this.push(null);
    if (this.paused) {
      // No more data will come for this stream; the finish confirmation must get through.
      this.paused = false;
      this.io.resume();
    }
    this.finish((err) => {
      if (err) this.destroy(err);
      else this.end();
    });
  }

  receiveError(err: Error): void {
    this.finished = true;
    const callbacks = this.finishCallbacks;
    this.finishCallbacks = [];
    for (const cb of callbacks) cb(err);
    this.destroy(err);
  }
}
