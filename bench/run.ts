// `make bench`: every benchmark, each with its baseline measured in the same run.
import { benchControlPlane } from "./control-plane.js";
import { benchCniLatency } from "./cni-latency.js";
import { benchDatapath } from "./datapath.js";

await benchControlPlane();
await benchCniLatency();
await (await import("./cni-procs.js")).benchCniProcs();
await (await import("./ipam-latency.js")).benchIpamLatency();
await benchDatapath();
await (await import("./cluster.js")).benchCluster();
await (await import("./docker-run.js")).benchDockerRun();
await (await import("./slices.js")).benchSlices();
await (await import("./services.js")).benchServices();
await (await import("./auth.js")).benchAuth();
await (await import("./offloads.js")).benchOffloads();
await (await import("./ovs.js")).benchOvs();
await (await import("./flows.js")).benchFlows();
