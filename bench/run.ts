// `make bench`: every benchmark, each with its baseline measured in the same run.
import { benchControlPlane } from "./control-plane.js";

await benchControlPlane();
