// The move's note: written as libvirt stores it, read back from a domain's XML, and added to the
// definitions a live migration sends.
import assert from "node:assert/strict";
import { parseDomainXml, withMoveMarker } from "../../../provider/src/engine/domain-xml";
import {
  MOVE_MARKER_NS,
  moveMarkerElement,
  type MoveMarker,
} from "../../../provider/src/engine/move-marker";

const marker: MoveMarker = {
  id: "a1b2c3",
  from: "h1",
  to: "h2",
  mode: "live-copy-all",
  stops: true,
  since: "2026-12-04T10:00:00.000Z",
};

const domain = (metadata = "") =>
  `<domain type='kvm'><name>vm</name><uuid>u</uuid><memory unit='KiB'>1024</memory>${metadata}<devices/></domain>`;

describe("engine: the move marker", () => {
  it("is the element libvirt stores, attributes escaped", () => {
    assert.equal(
      moveMarkerElement({ ...marker, from: 'h"1<' }),
      '<move id="a1b2c3" from="h&quot;1&lt;" to="h2" mode="live-copy-all" stops="yes" since="2026-12-04T10:00:00.000Z"/>',
    );
  });

  it("is read from the metadata libvirt writes, under any prefix", () => {
    const xml = domain(
      `<metadata><other:x xmlns:other="urn:other"/><vmp:move xmlns:vmp="${MOVE_MARKER_NS}" id="a1b2c3" from="h1" to="h2" mode="offline" stops="no" since="s"/></metadata>`,
    );
    assert.deepEqual(parseDomainXml(xml).moveMarker, {
      id: "a1b2c3",
      from: "h1",
      to: "h2",
      mode: "offline",
      stops: false,
      since: "s",
    });
  });

  it("is not taken from another namespace, or without its id", () => {
    assert.equal(
      parseDomainXml(
        domain(`<metadata><v:move xmlns:v="urn:other" id="1" from="a" to="b"/></metadata>`),
      ).moveMarker,
      undefined,
    );
    assert.equal(
      parseDomainXml(
        domain(`<metadata><v:move xmlns:v="${MOVE_MARKER_NS}" from="a" to="b"/></metadata>`),
      ).moveMarker,
      undefined,
    );
    assert.equal(parseDomainXml(domain()).moveMarker, undefined);
  });

  it("is added to a definition, replacing an older one and keeping other metadata", () => {
    const once = withMoveMarker(domain(), marker);
    assert.deepEqual(parseDomainXml(once).moveMarker, marker);
    const other = withMoveMarker(
      domain(`<metadata><other:x xmlns:other="urn:other"/></metadata>`),
      marker,
    );
    assert.match(other, /<other:x xmlns:other="urn:other"/);
    const again = withMoveMarker(once, { ...marker, id: "d4" });
    assert.equal(parseDomainXml(again).moveMarker?.id, "d4");
    assert.equal(again.match(/:move /g)?.length, 1);
  });
});
