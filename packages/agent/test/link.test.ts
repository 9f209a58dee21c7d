import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { Outbound, Inbound, InboundReadable } from "../src/flow.js";
import { acceptLink, dialLink, openSocket } from "../src/handshake.js";
import { Link } from "../src/link.js";
import { decodeData, encodeData, KIND, type Sequenced, type DataFrame } from "../src/protocol.js";

/** An in-process acceptor (the role the agent or the hub plays) for link-level tests. */
class Acceptor {
  readonly links = new Map<string, Link>();
  readonly accepted: Link[] = [];
  private server!: Server;
  private wss = new WebSocketServer({ noServer: true });
  url = "";
  async start(): Promise<void> {
    this.server = createServer();
    this.server.on("upgrade", (req, socket, head) =>
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        acceptLink(ws, this.links, (l) => this.accepted.push(l), { maxReplayBytes: 64 * 1024 }).catch(() =>
          ws.terminate(),
        );
      }),
    );
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }
  async dial(link?: Link) {
    return dialLink(await openSocket(this.url, "t"), link, { maxReplayBytes: 64 * 1024 });
  }
  stop(): void {
    for (const c of this.wss.clients) c.terminate();
    this.server.close();
  }
}

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("frames", () => {
  it("round-trips a data frame header and payload", () => {
    const f = decodeData(encodeData(KIND.stderr, 0xfffffffe, 2 ** 40 + 7, Buffer.from("abc")));
    assert.equal(f.kind, KIND.stderr);
    assert.equal(f.ch, 0xfffffffe);
    assert.equal(f.seq, 2 ** 40 + 7);
    assert.equal(f.payload.toString(), "abc");
  });
  it("refuses short frames and unknown kinds", () => {
    assert.throws(() => decodeData(Buffer.alloc(5)), /short data frame/);
    const b = encodeData(KIND.data, 1, 1, Buffer.alloc(0));
    b[0] = 9;
    assert.throws(() => decodeData(b), /unknown data frame kind 9/);
  });
});

describe("link", () => {
  const acc = new Acceptor();
  before(() => acc.start());
  after(() => acc.stop());

  it("resumes after a dropped socket without losing or repeating a message", async () => {
    const { link: client } = await acc.dial();
    await until(() => acc.accepted.length > 0);
    const server = acc.accepted.at(-1)!;
    const got: number[] = [];
    server.on("data", (f: DataFrame) => got.push(f.payload.readUInt32BE(0)));
    const payload = (i: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      return b;
    };
    for (let i = 0; i < 500; i++) {
      client.sendData(KIND.data, 1, payload(i));
      if (i === 200) client.detachSocket(); // frames 201.. are queued while disconnected
    }
    assert.equal(client.connected, false);
    const r = await acc.dial(client);
    assert.equal(r.resumed, true);
    await until(() => got.length >= 500);
    assert.deepEqual(
      got,
      Array.from({ length: 500 }, (_, i) => i),
    );
    // the acknowledgements empty the replay buffer
    await until(() => client.acknowledged(client.lastSent));
    client.close();
  });

  it("replays control messages in order across a drop in the other direction", async () => {
    const { link: client } = await acc.dial();
    await until(() => acc.accepted.length > 0 && acc.accepted.at(-1)!.id === client.id);
    const server = acc.accepted.at(-1)!;
    const got: number[] = [];
    client.on("message", (m: Sequenced) => m.t === "credit" && got.push(m.n));
    for (let i = 1; i <= 50; i++) {
      server.send({ t: "credit", ch: 1, n: i });
      if (i === 10) server.detachSocket();
    }
    await until(() => !client.connected);
    await acc.dial(client);
    await until(() => got.length >= 50);
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    client.close();
  });

  it("answers an unknown link with resumed=false and closes the old one", async () => {
    const { link: client } = await acc.dial();
    await until(() => acc.links.has(client.id));
    acc.links.get(client.id)!.close();
    client.detachSocket();
    const closed = new Promise((r) => client.once("closed", r));
    const r = await acc.dial(client);
    assert.equal(r.resumed, false);
    await closed;
    assert.equal(client.closed, true);
  });

  it("makes producers wait while the replay buffer is full", async () => {
    const { link: client } = await acc.dial();
    client.detachSocket(); // nothing can be acknowledged now
    for (let i = 0; i < 64; i++) client.sendData(KIND.data, 1, Buffer.alloc(1024));
    assert.equal(client.writable, false);
    let released = false;
    const waiting = client.whenWritable().then(() => (released = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(released, false);
    await acc.dial(client); // resume: the peer acknowledges the replayed frames
    await waiting;
    assert.equal(client.writable, true);
    client.close();
  });

  it("refuses a frame that skips a sequence number", async () => {
    const { link: client } = await acc.dial();
    await until(() => acc.links.has(client.id));
    const server = acc.links.get(client.id)!;
    const detached = new Promise((r) => server.once("detached", r));
    // reach into the socket: a peer that sends seq n+2 right away is broken
    const ws = (client as unknown as { ws: WebSocket }).ws;
    ws.send(encodeData(KIND.data, 1, client.lastSent + 5, Buffer.from("x")));
    await detached;
    client.close();
  });
});

describe("credit flow control", () => {
  const acc = new Acceptor();
  before(() => acc.start());
  after(() => acc.stop());

  it("sends no more than the window until the receiver consumes, then delivers everything", async () => {
    const { link: client } = await acc.dial();
    await until(() => acc.links.has(client.id));
    const server = acc.links.get(client.id)!;
    const window = 8 * 1024;
    const out = new Outbound(client, 7, window);
    client.on("message", (m: Sequenced) => m.t === "credit" && out.addCredit(m.n));
    const received: Buffer[] = [];
    server.on("data", (f: DataFrame) => received.push(f.payload));
    const total = 200 * 1024;
    const data = Buffer.alloc(total, 0).map((_, i) => i % 251);
    let writeDone = false;
    const writing = out.write(KIND.stdout, Buffer.from(data)).then(() => (writeDone = true));
    await until(() => received.reduce((n, b) => n + b.length, 0) >= window);
    await new Promise((r) => setTimeout(r, 50));
    // nobody consumed: the sender stopped at the window
    assert.equal(
      received.reduce((n, b) => n + b.length, 0),
      window,
    );
    assert.equal(writeDone, false);
    // consume as data arrives: credit flows back and the rest comes through
    const inbound = new Inbound(server, 7, window);
    inbound.consumed(window);
    server.on("data", (f: DataFrame) => inbound.consumed(f.payload.length));
    await writing;
    await until(() => received.reduce((n, b) => n + b.length, 0) === total);
    assert.ok(Buffer.concat(received).equals(data));
    client.close();
  });

  it("InboundReadable returns credit only as its reader reads", async () => {
    const { link: client } = await acc.dial();
    await until(() => acc.links.has(client.id));
    const server = acc.links.get(client.id)!;
    const window = 4096;
    const out = new Outbound(client, 3, window);
    client.on("message", (m: Sequenced) => m.t === "credit" && out.addCredit(m.n));
    const r = new InboundReadable(server, 3, window);
    server.on("data", (f: DataFrame) => r.feed(f.payload));
    server.on("message", (m: Sequenced) => m.t === "eof" && r.push(null));
    const data = Buffer.alloc(300 * 1024, 7);
    // the end travels in sequence after the data, as in the protocol
    const writing = out.write(KIND.data, data).then(() => client.send({ t: "eof", ch: 3 }));
    const chunks: Buffer[] = [];
    for await (const c of r) chunks.push(c as Buffer);
    await writing;
    assert.equal(Buffer.concat(chunks).length, data.length);
    client.close();
  });
});
