// Traffic tool the datapath benchmark runs inside its namespaces: how many new
// TCP connections per second get through. Every connection is a new flow, so a
// stateful firewall judges each one (its SYN) against the rules, while iperf3's
// long flows mostly measure the established fast path.
//
//   node connect-rate.js serve PORT                          accepts and closes at once; prints "ready"
//   node connect-rate.js connect ADDR PORT SECONDS PARALLEL  prints {"connections","errors","seconds"}

import { connect, createServer } from "node:net";

const [mode, ...args] = process.argv.slice(2);

if (mode === "serve") {
  const port = Number(args[0]);
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.end(); // the server closes first, so TIME_WAIT stays on its side and client ports stay free
  });
  server.listen(port, () => process.stdout.write("ready\n"));
} else if (mode === "connect") {
  const [host, portText, secondsText, parallelText] = args as [string, string, string, string];
  const port = Number(portText);
  const deadline = performance.now() + Number(secondsText) * 1000;
  let connections = 0;
  let errors = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const socket = connect({ host, port });
      socket.setTimeout(2000, () => socket.destroy(new Error("timeout")));
      socket.on("error", () => (errors++, resolve()));
      socket.on("end", () => socket.end());
      socket.on("close", (hadError) => {
        if (!hadError) connections++;
        resolve();
      });
    });
  const worker = async () => {
    while (performance.now() < deadline) await one();
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Number(parallelText) }, worker));
  const seconds = (performance.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ connections, errors, seconds }) + "\n");
} else {
  process.stderr.write("usage: connect-rate serve PORT | connect ADDR PORT SECONDS PARALLEL\n");
  process.exit(2);
}
