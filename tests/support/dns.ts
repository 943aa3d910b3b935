import { createSocket, type Socket } from 'node:dgram';

/**
 * A small authoritative DNS server on loopback (UDP, RFC 1035 wire format) answering TXT questions from
 * a table the test controls; anything else is NXDOMAIN. The platform reaches it as its resolver
 * (`DNS_SERVERS=127.0.0.1:<port>`), exactly as it would reach a real one.
 */
export interface TestDns {
  address: string;
  /** Sets (or with no values, removes) the TXT strings of a name. */
  setTxt(name: string, values: string[]): void;
  queries: number;
  close(): Promise<void>;
}

function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let i = offset;
  while (msg[i] !== 0) {
    const len = msg[i];
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += len + 1;
  }
  return { name: labels.join('.').toLowerCase(), next: i + 1 };
}

function answer(query: Buffer, txt: Map<string, string[]>): Buffer {
  const { name, next } = readName(query, 12);
  const qtype = query.readUInt16BE(next);
  const question = query.subarray(12, next + 4);
  const values = qtype === 16 ? txt.get(name) : undefined;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const known = txt.has(name);
  // QR, opcode 0, AA, RD copied; RA; rcode 0 (or 3: NXDOMAIN)
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(values?.length ?? 0, 6);
  const records = (values ?? []).map((value) => {
    const strings = Buffer.concat(
      (value.match(/.{1,255}/gs) ?? ['']).map((chunk) =>
        Buffer.concat([Buffer.from([Buffer.byteLength(chunk)]), Buffer.from(chunk)]),
      ),
    );
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(16, 2); // TXT
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(60, 6); // TTL
    rr.writeUInt16BE(strings.length, 10);
    return Buffer.concat([rr, strings]);
  });
  return Buffer.concat([header, question, ...records]);
}

export async function startTestDns(): Promise<TestDns> {
  const txt = new Map<string, string[]>();
  const socket: Socket = createSocket('udp4');
  const server: TestDns = {
    address: '',
    queries: 0,
    setTxt(name, values) {
      if (values.length) txt.set(name.toLowerCase(), values);
      else txt.delete(name.toLowerCase());
    },
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    server.queries++;
    socket.send(answer(msg, txt), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}
