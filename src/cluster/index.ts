// Simulated multi-host clusters on one machine (network namespaces), for tests, benchmarks and the demo.
export { Cluster, defaultDatapath, NETMASTER_ADDRESS, netctlHint, OUTSIDE_ADDRESS, removeNamespaces } from "./cluster.js";
export type { ClusterHost, ClusterOptions, CniOutcome } from "./cluster.js";
export { DOCKER_IMAGE, DockerHost, missingDockerTools, NOWHERE_DNS } from "./docker.js";
export type { DockerHostOptions } from "./docker.js";
export { unixRequest } from "./http.js";
export { inOwnSession, isSessionWorker } from "./session.js";
