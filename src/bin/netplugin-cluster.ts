// netplugin-cluster: a cluster of simulated hosts on this machine.
//   netplugin-cluster up [--hosts 3] [--store sqlite|etcd] [--fwdmode bridge|routing] [--prefix P] [--dir D]
//     brings it up, prints how to use it, and keeps it until Ctrl-C, then removes everything.
//   netplugin-cluster cleanup --prefix P
//     removes what a crashed run left (namespaces named P-…).

import { Command, Option } from "commander";
import { Cluster, netctlHint, removeNamespaces } from "../cluster/index.js";
import { errorMessage } from "../lib/errors.js";

const program = new Command("netplugin-cluster").description("simulated netplugin clusters in network namespaces");

program
  .command("up")
  .description("bring a cluster up and keep it until Ctrl-C")
  .addOption(new Option("--hosts <n>", "number of hosts").argParser(Number).default(3))
  .addOption(new Option("--store <kind>", "netmaster's store").choices(["sqlite", "etcd"]).default("sqlite"))
  .addOption(new Option("--fwdmode <mode>", "forwarding mode").choices(["bridge", "routing"]).default("bridge"))
  .addOption(new Option("--prefix <p>", "name prefix of everything it makes"))
  .addOption(new Option("--dir <path>", "sockets, state and logs (default: a temp dir, removed at the end)"))
  .action(async (o: { hosts: number; store: "sqlite" | "etcd"; fwdmode: "bridge" | "routing"; prefix?: string; dir?: string }) => {
    const cluster = await Cluster.up({ hosts: o.hosts, store: o.store, fwdMode: o.fwdmode, ...(o.prefix ? { prefix: o.prefix } : {}), ...(o.dir ? { dir: o.dir } : {}) });
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      process.stdout.write("\nstopping the cluster…\n");
      await cluster.down();
      process.stdout.write("cluster removed\n");
      process.exit(0);
    };
    process.on("SIGINT", () => void stop());
    process.on("SIGTERM", () => void stop());
    process.stdout.write(
      [
        `cluster ${cluster.prefix} is up: ${cluster.hosts.length} hosts, logs in ${cluster.dir}`,
        ...cluster.hosts.map((h) => `  host ${h.name}: namespace ${h.namespace}, underlay ${h.address}, agent socket ${h.socket}`),
        ...netctlHint(cluster),
        `Ctrl-C removes everything.`,
        "",
      ].join("\n"),
    );
  });

program
  .command("cleanup")
  .description("remove the namespaces a crashed run left")
  .requiredOption("--prefix <p>", "the run's prefix")
  .action(async (o: { prefix: string }) => {
    const removed = await removeNamespaces(o.prefix);
    process.stdout.write(`removed ${removed.length} namespaces\n`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`netplugin-cluster: ${errorMessage(err)}\n`);
  process.exit(1);
});
