// Test tool run inside a container namespace: one DNS query over UDP, printed
// as JSON {rcode, addresses}. Usage: node dns-query.js SERVER NAME A|AAAA
import { createSocket } from "node:dgram";
import { decodeMessage, encodeQuery, RRType } from "../../src/agent/dns/message.js";

const [server, name, type] = process.argv.slice(2) as [string, string, "A" | "AAAA"];
const socket = createSocket(server.includes(":") ? "udp6" : "udp4");
const timer = setTimeout(() => {
  process.stdout.write(JSON.stringify({ rcode: "timeout", addresses: [] }) + "\n");
  socket.close();
}, 3000);
socket.on("message", (buf) => {
  clearTimeout(timer);
  const decoded = decodeMessage(buf);
  if (!decoded.ok) {
    process.stdout.write(JSON.stringify({ rcode: "malformed", addresses: [] }) + "\n");
  } else {
    const addresses = decoded.message.answers.map((a) =>
      a.data.length === 4 ? [...a.data].join(".") : Buffer.from(a.data).toString("hex").replace(/(.{4})(?!$)/g, "$1:"),
    );
    process.stdout.write(JSON.stringify({ rcode: decoded.message.rcode, addresses }) + "\n");
  }
  socket.close();
});
socket.send(encodeQuery({ id: 4242, name, type: type === "AAAA" ? RRType.AAAA : RRType.A }), 53, server);
