import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';

/**
 * The fan-out benchmark's baseline: a plain `ws` server with one room. Every WebSocket connected on
 * /ws is a subscriber; `POST /send {"body": "…"}` serialises one graphql-ws-shaped `next` frame (the
 * same shape and about the same size as the gateway's) once and writes it to every open socket.
 * Prints `raw broadcast listening <url>` once it accepts connections; stops on SIGTERM.
 */
const wss = new WebSocketServer({ noServer: true });

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/send') {
    res.writeHead(404).end();
    return;
  }
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (raw += chunk));
  req.on('end', () => {
    let body: unknown;
    try {
      body = (JSON.parse(raw) as { body?: unknown }).body;
    } catch {
      body = undefined;
    }
    if (typeof body !== 'string') {
      res.writeHead(400).end();
      return;
    }
    const id = randomUUID();
    const frame = Buffer.from(
      JSON.stringify({ id: randomUUID(), type: 'next', payload: { data: { messageAdded: { id, body } } } }),
    );
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(frame, { binary: false });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { sendMessage: { id } } }));
  });
});

server.on('upgrade', (req, socket, head) => {
  if (req.url !== '/ws') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`raw broadcast listening http://127.0.0.1:${port}\n`);
});

process.on('SIGTERM', () => {
  for (const client of wss.clients) client.terminate();
  wss.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});
