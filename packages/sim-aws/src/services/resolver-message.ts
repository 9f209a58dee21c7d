import packet, { type DecodedPacket, type Question } from "dns-packet";
import { forward, type Upstream } from "./resolver-forward.js";
import type { ZoneAnswer } from "./resolver-zone.js";

/** One DNS query message in, one answer out: from the VPC's zones, else forwarded, else SERVFAIL. */

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const QR = 0x8000;
const OPCODE_BITS = 0x7800;
/** Without EDNS (this server does not offer it) a UDP answer holds at most 512 bytes. */
const UDP_MAX = 512;

export interface Responder {
  /** the answer when the name is in one of the VPC's zones, undefined when it is not */
  zone(q: Question): ZoneAnswer | undefined;
  /** where other names go; none: SERVFAIL */
  upstreams(): Promise<Upstream[]>;
}

/** Header (and the question, when it could be read) with an error code. */
function failure(query: Buffer, rcode: number, questions: Question[] = []): Buffer {
  const flags = query.readUInt16BE(2);
  return packet.encode({
    type: "response",
    id: query.readUInt16BE(0),
    flags: (flags & (OPCODE_BITS | packet.RECURSION_DESIRED)) | packet.RECURSION_AVAILABLE | rcode,
    questions,
  });
}

export async function respond(query: Buffer, tcp: boolean, r: Responder): Promise<Buffer | undefined> {
  if (query.length < 12 || query.readUInt16BE(2) & QR) return undefined; // not a query: no answer
  let q: DecodedPacket;
  try {
    q = packet.decode(query);
  } catch {
    return failure(query, RCODE.FORMERR);
  }
  if (query.readUInt16BE(2) & OPCODE_BITS) return failure(query, RCODE.NOTIMP, q.questions);
  if (q.questions?.length !== 1) return failure(query, RCODE.FORMERR, q.questions);
  const question = q.questions[0];
  const z = (question.class ?? "IN") === "IN" ? r.zone(question) : undefined;
  if (!z) {
    const servers = await r.upstreams();
    return (
      (servers.length && (await forward(query, tcp, servers))) || failure(query, RCODE.SERVFAIL, q.questions)
    );
  }
  const answer = packet.encode({
    type: "response",
    id: q.id,
    flags: (q.flags! & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | RCODE[z.rcode],
    questions: q.questions,
    answers: z.answers,
    authorities: z.authorities,
  });
  if (tcp || answer.length <= UDP_MAX) return answer;
  // too big for UDP: say so (TC), and the client asks again over TCP
  return packet.encode({
    type: "response",
    id: q.id,
    flags:
      (q.flags! & packet.RECURSION_DESIRED) |
      packet.RECURSION_AVAILABLE |
      packet.TRUNCATED_RESPONSE |
      RCODE[z.rcode],
    questions: q.questions,
  });
}
