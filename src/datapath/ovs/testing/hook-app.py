# An SDN controller application for the OVS driver's controller test (os-ken, OpenFlow 1.3): when the bridge
# connects it installs one flow in the hook table before our policy (layout.ts PRE_HOOK, 15) that drops TCP to
# the port named by HOOK_DROP_PORT, which our policy allows. Its cookie is its own (0xc0de).
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

PRE_HOOK = 15


class DropOnePort(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        p = dp.ofproto_parser
        match = p.OFPMatch(eth_type=0x0800, ip_proto=6, tcp_dst=int(os.environ["HOOK_DROP_PORT"]))
        dp.send_msg(p.OFPFlowMod(datapath=dp, table_id=PRE_HOOK, priority=100, cookie=0xC0DE, match=match, instructions=[]))
        self.logger.info("hook flow installed on %016x", dp.id)
