import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { goValue, tabwrite, TabWriter } from "./table.js";

// Expected outputs are worked out by hand from Go's text/tabwriter rules, or copied from real
// `netctl` output quoted in Contiv's tutorials.
describe("tabwrite", () => {
  const cases: Array<{ name: string; input: string; want: string }> = [
    {
      name: "pads each column to its widest cell plus 2",
      input: "a\tbbb\tc\naa\tb\tc\n",
      want: "a   bbb  c\naa  b    c\n",
    },
    {
      name: "never pads the last cell of a line",
      input: "x\tlong last cell\nxxxx\ty\n",
      want: "x     long last cell\nxxxx  y\n",
    },
    {
      name: "a line with one cell ends the column block",
      input: "x\ty\nHeader:\nlong\ty\n",
      want: "x  y\nHeader:\nlong  y\n",
    },
    {
      name: "ragged rows form nested blocks",
      input: "a\tb\tc\naaaa\tb\na\tbbbbbb\tc\n",
      want: "a     b  c\naaaa  b\na     bbbbbb  c\n",
    },
    {
      name: "empty cells still take their column's width",
      input: "a\t\tc\n\tbb\tc\n",
      want: "a      c\n   bb  c\n",
    },
    {
      name: "widths count code points, not UTF-16 units or bytes",
      input: "é\tx\nab\tx\n😀\tx\n",
      want: "é   x\nab  x\n😀   x\n",
    },
    {
      name: "text without a final newline keeps none",
      input: "a\tb\nccc\td",
      want: "a    b\nccc  d",
    },
    {
      name: "a trailing tab makes the cell a padded column (Contiv's tenant ls)",
      input: "Name\t\n------\t\ndefault\t\n",
      want: "Name     \n------   \ndefault  \n",
    },
    { name: "empty input", input: "", want: "" },
    {
      name: "lines without tabs pass through",
      input: "Fabric mode: default\nARP mode: proxy\n",
      want: "Fabric mode: default\nARP mode: proxy\n",
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(tabwrite(c.input), c.want));
  }

  it("honours minwidth and padding", () => {
    assert.equal(tabwrite("a\tb\n", { minwidth: 5, padding: 1 }), "a    b\n");
    assert.equal(tabwrite("abcdef\tb\n", { minwidth: 5, padding: 1 }), "abcdef b\n");
  });

  it("matches real Contiv rule-ls output (two tables split by the '… Rules:' lines)", () => {
    // From Contiv's policy tutorial (older column set, same writer settings).
    const input =
      "Incoming Rules:\n" +
      "Rule\tPriority\tFrom EndpointGroup\tFrom Network\tFrom IpAddress\tProtocol\tPort\tAction\n" +
      "----\t--------\t------------------\t------------\t---------\t--------\t----\t------\n" +
      "1\t1\tepgA\t\t\ticmp\t0\tdeny\n" +
      "3\t1\tepgA\t\t\ttcp\t8001\tallow\n" +
      "Outgoing Rules:\n" +
      "Rule\tPriority\tTo EndpointGroup\tTo Network\tTo IpAddress\tProtocol\tPort\tAction\n" +
      "----\t--------\t----------------\t----------\t---------\t--------\t----\t------\n";
    const want =
      "Incoming Rules:\n" +
      "Rule  Priority  From EndpointGroup  From Network  From IpAddress  Protocol  Port  Action\n" +
      "----  --------  ------------------  ------------  ---------       --------  ----  ------\n" +
      "1     1         epgA                                              icmp      0     deny\n" +
      "3     1         epgA                                              tcp       8001  allow\n" +
      "Outgoing Rules:\n" +
      "Rule  Priority  To EndpointGroup  To Network  To IpAddress  Protocol  Port  Action\n" +
      "----  --------  ----------------  ----------  ---------     --------  ----  ------\n";
    assert.equal(tabwrite(input), want);
  });

  it("matches real Contiv net ls output (trailing blanks of the quoted output were trimmed)", () => {
    const input =
      "Tenant\tNetwork\tNw Type\tEncap type\tPacket tag\tSubnet\tGateway\tIPv6Subnet\tIPv6Gateway\tCfgd Tag \n" +
      "------\t-------\t-------\t----------\t----------\t-------\t------\t----------\t-----------\t---------\n" +
      "default\tdefault-net\tdata\tvxlan\t0\t20.1.1.0/24\t20.1.1.1\t\t\t\n" +
      "default\tcontiv-net\tdata\tvxlan\t0\t10.1.2.0/24\t10.1.2.1\t\t\t\n" +
      "default\tcontivh1\tinfra\tvxlan\t0\t132.1.1.0/24\t132.1.1.1\t\t\t\n";
    const want =
      "Tenant   Network      Nw Type  Encap type  Packet tag  Subnet        Gateway    IPv6Subnet  IPv6Gateway  Cfgd Tag\n" +
      "------   -------      -------  ----------  ----------  -------       ------     ----------  -----------  ---------\n" +
      "default  default-net  data     vxlan       0           20.1.1.0/24   20.1.1.1\n" +
      "default  contiv-net   data     vxlan       0           10.1.2.0/24   10.1.2.1\n" +
      "default  contivh1     infra    vxlan       0           132.1.1.0/24  132.1.1.1\n";
    const trimLines = (s: string): string => s.replace(/ +\n/g, "\n");
    assert.equal(trimLines(tabwrite(input)), want);
  });
});

describe("TabWriter", () => {
  it("joins row cells with tabs and renders on flush", () => {
    const w = new TabWriter();
    w.write("A\tB\n").row("xyz", 0).row(undefined, ["a=b", "c=d"]);
    assert.equal(w.flush(), "A    B\nxyz  0\n     [a=b c=d]\n");
    assert.equal(w.flush(), "");
  });
});

describe("goValue", () => {
  it("prints values like Go's %v on typed fields", () => {
    assert.equal(goValue(undefined), "");
    assert.equal(goValue(""), "");
    assert.equal(goValue(12), "12");
    assert.equal(goValue([]), "[]");
    assert.equal(goValue(["a=b", "c=d"]), "[a=b c=d]");
  });
});
