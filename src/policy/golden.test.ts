// Golden test: the exact script for a small tenant (two networks in bridge mode,
// DSCP, in and out rules, IPv4 and IPv6, ICMP, Contiv's range form). Read it as
// documentation of the table layout; when the layout changes on purpose,
// regenerate it and review the diff line by line.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePolicy } from "./compile.js";
import type { PolicyInput } from "./types.js";

const GOLDEN_INPUT: PolicyInput = {
  "fwdMode": "bridge",
  "networks": [
    {
      "name": "front",
      "bridge": "nb1",
      "subnet": "198.18.1.0/24",
      "ipv6Subnet": "fd00:1::/64"
    },
    {
      "name": "back",
      "bridge": "nb2",
      "subnet": "198.18.2.0/24",
      "ipv6Subnet": ""
    }
  ],
  "groups": [
    {
      "id": 1,
      "name": "web",
      "ipv4": [
        "198.18.1.1",
        "198.18.1.2"
      ],
      "ipv6": [
        "fd00:1::1"
      ],
      "dscp": 10
    },
    {
      "id": 2,
      "name": "db",
      "ipv4": [
        "198.18.2.3/24"
      ],
      "ipv6": [
        "fd00:1::3"
      ],
      "dscp": 0
    }
  ],
  "rules": [
    {
      "key": "t:db:deny-tcp",
      "groupId": 2,
      "direction": "in",
      "priority": 1,
      "action": "deny",
      "protocol": 6
    },
    {
      "key": "t:db:pg",
      "groupId": 2,
      "direction": "in",
      "priority": 10,
      "action": "allow",
      "protocol": 6,
      "port": 5432,
      "peerGroupId": 1
    },
    {
      "key": "t:db:no-ping",
      "groupId": 2,
      "direction": "in",
      "priority": 5,
      "action": "deny",
      "protocol": 1,
      "peerCidrs": [
        "198.18.1.1-2"
      ]
    },
    {
      "key": "t:web:no-out",
      "groupId": 1,
      "direction": "out",
      "priority": 3,
      "action": "deny",
      "peerCidrs": [
        "198.18.9.0/24",
        "fd00:9::/64"
      ]
    }
  ]
};

const GOLDEN_SCRIPT = `# netplugin tenant policy (src/policy/compile.ts): one transaction replacing the table.
table inet netplugin {}
delete table inet netplugin
table inet netplugin {
	set bridged {
		typeof iifname . oifname
		flags timeout
	}
	set cross_bridge {
		typeof iifname . oifname
		elements = {
			"nb1" . "nb2",
			"nb2" . "nb1"
		}
	}
	map dscp4 {
		typeof ip saddr : verdict
		flags interval
		elements = {
			198.18.1.1-198.18.1.2 : goto dscp_10
		}
	}
	map dscp6 {
		typeof ip6 saddr : verdict
		flags interval
		elements = {
			fd00:1::1 : goto dscp_10
		}
	}
	map out_groups4 {
		typeof ip saddr : verdict
		flags interval
		elements = {
			198.18.1.1-198.18.1.2 : goto out_g1
		}
	}
	map out_groups6 {
		typeof ip6 saddr : verdict
		flags interval
		elements = {
			fd00:1::1 : goto out_g1
		}
	}
	map in_groups4 {
		typeof ip daddr : verdict
		flags interval
		elements = {
			198.18.2.3 : goto in_g2
		}
	}
	map in_groups6 {
		typeof ip6 daddr : verdict
		flags interval
		elements = {
			fd00:1::3 : goto in_g2
		}
	}
	map out_g1_peers4 {
		typeof ip daddr : meta mark
		flags interval
		elements = {
			198.18.9.0/24 : 1
		}
	}
	map out_g1_peers6 {
		typeof ip6 daddr : meta mark
		flags interval
		elements = {
			fd00:9::/64 : 1
		}
	}
	map in_g2_peers4 {
		typeof ip saddr : meta mark
		flags interval
		elements = {
			198.18.1.1-198.18.1.2 : 3
		}
	}
	map in_g2_peers6 {
		typeof ip6 saddr : meta mark
		flags interval
		elements = {
			fd00:1::1 : 4
		}
	}
	map ported_exact {
		typeof meta mark . meta l4proto . th dport : verdict
		counter
		elements = {
			3 . tcp . 5432 : return,
			4 . tcp . 5432 : return
		}
	}
	map ported_any {
		typeof meta mark . meta l4proto : verdict
		counter
		elements = {
			1 . tcp : drop,
			1 . udp : drop,
			1 . sctp : drop,
			2 . tcp : drop,
			3 . tcp : drop,
			4 . tcp : drop
		}
	}
	map portless_exact {
		typeof meta mark . meta nfproto . meta l4proto : verdict
		counter
		elements = {
			3 . ipv4 . 1 : drop,
			3 . ipv6 . 58 : drop
		}
	}
	map portless_any {
		typeof meta mark : verdict
		counter
		elements = {
			1 : drop
		}
	}
	chain prerouting {
		type filter hook prerouting priority mangle; policy accept;
		ip saddr vmap @dscp4
		ip6 saddr vmap @dscp6
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname . oifname @cross_bridge ct status ! dnat drop
		jump enforce
	}
	chain input {
		type filter hook input priority filter; policy accept;
		jump enforce
	}
	chain output {
		type filter hook output priority filter; policy accept;
		jump enforce
	}
	chain enforce {
		ct state established,related accept
		ct state new tcp flags & syn == 0 iifname . oifname @bridged accept
		icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect } accept
		jump out_check
		jump in_check
	}
	chain out_check {
		ip saddr vmap @out_groups4
		ip6 saddr vmap @out_groups6
	}
	chain in_check {
		ip daddr vmap @in_groups4
		ip6 daddr vmap @in_groups6
	}
	chain judge_ported {
		meta mark . meta l4proto . th dport vmap @ported_exact
		meta mark . meta l4proto vmap @ported_any
	}
	chain judge_portless {
		meta mark . meta nfproto . meta l4proto vmap @portless_exact
		meta mark vmap @portless_any
	}
	chain dscp_10 {
		ip dscp set 10
		ip6 dscp set 10
	}
	chain out_g1 {
		meta mark set 0
		meta mark set ip daddr map @out_g1_peers4
		meta mark set ip6 daddr map @out_g1_peers6
		meta l4proto { tcp, udp, sctp } goto judge_ported
		goto judge_portless
	}
	chain in_g2 {
		meta mark set 2
		meta mark set ip saddr map @in_g2_peers4
		meta mark set ip6 saddr map @in_g2_peers6
		meta l4proto { tcp, udp, sctp } goto judge_ported
		goto judge_portless
	}
}
`;

describe("golden script", () => {
  it("renders the small tenant exactly", () => {
    const compiled = compilePolicy(GOLDEN_INPUT);
    const got = compiled.script.split("\n");
    const want = GOLDEN_SCRIPT.split("\n");
    for (let i = 0; i < Math.max(got.length, want.length); i++) {
      assert.equal(got[i], want[i], `line ${i + 1}`);
    }
  });

  it("maps every verdict element to the rule it stands for", () => {
    const compiled = compilePolicy(GOLDEN_INPUT);
    assert.deepEqual(
      [...compiled.elementRules].sort(),
      [
        ["ported_any:1.132", "t:web:no-out"],
        ["ported_any:1.17", "t:web:no-out"],
        ["ported_any:1.6", "t:web:no-out"],
        ["ported_any:2.6", "t:db:deny-tcp"],
        ["ported_any:3.6", "t:db:deny-tcp"],
        ["ported_any:4.6", "t:db:deny-tcp"],
        ["ported_exact:3.6.5432", "t:db:pg"],
        ["ported_exact:4.6.5432", "t:db:pg"],
        ["portless_any:1", "t:web:no-out"],
        ["portless_exact:3.10.58", "t:db:no-ping"],
        ["portless_exact:3.2.1", "t:db:no-ping"],
      ],
    );
    assert.equal(compiled.stats.totalElements, 23);
  });

  it("is deterministic", () => {
    assert.equal(compilePolicy(GOLDEN_INPUT).script, compilePolicy(structuredClone(GOLDEN_INPUT)).script);
  });
});
