// What netmaster keeps for Docker: pool and reservation records (their keys and the drivers' requests are
// in the contract, re-exported here).

export { DOCKER_PREFIX, POOL_ID_KEY, POOL_PREFIX, poolKey, RESERVATION_PREFIX, reservationKey } from "../../contract/keys.js";
export * from "../../contract/docker.js";

export interface DockerPool {
  poolId: string;
  host: string;
  v6: boolean;
  /** map: an existing network (or group); create: a network the Docker driver creates at CreateNetwork. */
  mode: "map" | "create";
  tenant: string;
  /** map: the network; create: the name asked for with the network option ("" = unknown yet), then the network made. */
  network: string;
  group: string;
  /** The pool handed to Docker, in CIDR form. */
  pool: string;
  subPool: string;
  /** Gateway address (no length); create mode: chosen at RequestPool, replaced by a --gateway. */
  gateway: string;
  /** create mode: the network exists. */
  bound: boolean;
}

export interface DockerReservation {
  poolId: string;
  tenant: string;
  network: string;
  /** The group whose ip-pool the address came from; "" = the network's allocator. */
  poolGroup: string;
  address: string;
  host: string;
  /** The endpoint that adopted the address; "" while the reservation holds it. */
  endpointId: string;
}

