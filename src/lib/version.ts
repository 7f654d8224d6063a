// What `GET /version` and `netctl version` report, in Contiv's shape.
export const VERSION_INFO = {
  Version: "0.1.0",
  GitCommit: process.env.NETPLUGIN_GIT_COMMIT ?? "unknown",
  BuildTime: process.env.NETPLUGIN_BUILD_TIME ?? "unknown",
};
