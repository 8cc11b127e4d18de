import assert from "node:assert/strict";
import {
  defaultSocketPath,
  parseLibvirtUri,
  type LibvirtUri,
} from "../../../provider/src/libvirt/uri";
import { LibvirtClientError } from "../../../provider/src/libvirt/errors";

type Expected = Partial<Omit<LibvirtUri, "params">> & { params?: Partial<LibvirtUri["params"]> };

const cases: Array<[string, Expected]> = [
  [
    "qemu:///system",
    {
      driver: "qemu",
      transport: "unix",
      host: undefined,
      port: undefined,
      user: undefined,
      path: "/system",
      name: "qemu:///system",
    },
  ],
  ["qemu:///session", { transport: "unix", name: "qemu:///session" }],
  [
    "qemu+unix:///system?socket=/run/x.sock",
    { transport: "unix", name: "qemu:///system", params: { socket: "/run/x.sock" } },
  ],
  [
    "qemu+tcp://10.0.0.5/system",
    { transport: "tcp", host: "10.0.0.5", port: undefined, name: "qemu:///system" },
  ],
  [
    "qemu+tcp://h:16600/system",
    { transport: "tcp", host: "h", port: 16600, name: "qemu:///system" },
  ],
  ["qemu+tls://h/system", { transport: "tls", host: "h", name: "qemu:///system" }],
  ["qemu://host/system", { transport: "tls", host: "host", name: "qemu:///system" }],
  [
    "qemu+ssh://root@h:2222/system?keyfile=/k&known_hosts=/kh&known_hosts_verify=ignore",
    {
      transport: "ssh",
      user: "root",
      host: "h",
      port: 2222,
      path: "/system",
      name: "qemu:///system",
      params: {
        keyfile: "/k",
        knownHosts: "/kh",
        knownHostsVerify: "ignore",
        noVerify: false,
        proxy: "auto",
      },
    },
  ],
  ["qemu+libssh2://h/system", { transport: "ssh", host: "h", name: "qemu:///system" }],
  [
    "qemu+ssh://h/system",
    { params: { knownHostsVerify: "normal", keyfile: undefined, knownHosts: undefined } },
  ],
  ["qemu+tcp://h/system?foo=bar", { name: "qemu:///system?foo=bar" }],
  [
    "qemu+tls://h/system?no_verify=1&foo=bar&pkipath=/pki",
    { name: "qemu:///system?foo=bar", params: { noVerify: true, pkipath: "/pki" } },
  ],
  ["qemu+tcp://h/system?name=qemu:///embed", { name: "qemu:///embed" }],
  [
    "qemu+tcp://[fd00::5]:16509/system",
    { transport: "tcp", host: "fd00::5", port: 16509, name: "qemu:///system" },
  ],
  [
    "qemu+ssh://admin@[::1]/system",
    { transport: "ssh", user: "admin", host: "::1", port: undefined },
  ],
];

describe("libvirt URI parsing", () => {
  for (const [uri, expected] of cases) {
    it(`parses ${uri}`, () => {
      const u = parseLibvirtUri(uri);
      assert.equal(u.uri, uri);
      const { params, ...rest } = expected;
      for (const [key, value] of Object.entries(rest))
        assert.deepEqual(u[key as keyof LibvirtUri], value, `${key} of ${uri}`);
      for (const [key, value] of Object.entries(params ?? {}))
        assert.deepEqual(
          u.params[key as keyof LibvirtUri["params"]],
          value,
          `params.${key} of ${uri}`,
        );
    });
  }

  it("uses the system socket unless the URI names one", () => {
    assert.equal(defaultSocketPath(parseLibvirtUri("qemu:///system")), "/run/libvirt/libvirt-sock");
    assert.equal(defaultSocketPath(parseLibvirtUri("qemu:///system?socket=/s")), "/s");
  });

  const malformed: Array<[string, RegExp]> = [
    ["nonsense", /driver\[\+transport\]:\/\//],
    ["qemu+carrier-pigeon://h/system", /unsupported transport .carrier-pigeon./],
    ["qemu+pigeon://h/system", /unsupported transport 'pigeon'/],
    ["qemu+tcp:///system", /tcp transport needs a host/],
    ["qemu+ssh:///system", /ssh transport needs a host/],
    ["qemu+unix://h/system", /unix socket URI has no host/],
    [
      "qemu+ssh://h/system?known_hosts_verify=maybe",
      /known_hosts_verify must be normal, auto or ignore, not 'maybe'/,
    ],
    ["qemu+ssh://h/system?proxy=magic", /proxy must be auto, netcat or native/],
    ["qemu+tcp://h:99999/system", /malformed/],
  ];
  for (const [uri, why] of malformed) {
    it(`rejects ${uri}`, () => {
      assert.throws(
        () => parseLibvirtUri(uri),
        (err: unknown) => {
          assert.ok(err instanceof LibvirtClientError, `a LibvirtClientError for ${uri}`);
          assert.equal(err.code, "VMP_LIBVIRT_URI");
          assert.ok(err.message.includes(`'${uri}'`), `the message names the URI: ${err.message}`);
          assert.match(err.message, why);
          return true;
        },
      );
    });
  }
});
