"""Places lab VMs under one migration policy: examples/typescript, through the Python SDK.

The placements come from stack config (`vms`: VM name -> host, optionally `pools`: VM name ->
storage pool); changing one and running `pulumi up` migrates that VM live. Hosts are read from
the lab description, never hard-coded.
"""

import json
import os
import re

import pulumi
import pulumi_vmplacement as vmplacement


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def schema_name(name: str) -> str:
    """bytes_moved -> bytesMoved, from_ -> from: output types reach the program with Python
    names; the stack outputs keep the schema's, as the TypeScript example's do."""
    return re.sub(r"_(\w)", lambda m: m.group(1).upper(), name.rstrip("_"))


config = pulumi.Config()
lab_dir = os.environ.get("VMP_LAB_DIR", "/var/lib/vmplacement-lab")
lab = json.loads(read(os.path.join(lab_dir, "lab.json")))

# The lab's hosts over ssh, with host keys verified; daemons reach each other over tcp.
provider = vmplacement.Provider(
    "lab",
    hosts=[
        vmplacement.HostArgs(
            name=h["name"],
            uri=h["uris"]["ssh"],
            peer_uri=h["uris"]["tcp"],
            migration_address=h["migrationAddress"],
        )
        for h in lab["hosts"]
    ],
    ssh_private_key=pulumi.Output.secret(read(lab["ssh"]["privateKey"])),
    ssh_known_hosts=read(lab["ssh"]["knownHosts"]),
    max_migrations_per_host_outbound=1,
    max_migrations_per_host_inbound=1,
)
on_lab = pulumi.ResourceOptions(provider=provider)

policy = vmplacement.MigrationPolicy(
    "standard",
    max_downtime_ms=300,
    downtime_ladder_ms=[300, 500, 1000],
    allow_post_copy=True,
    allow_offline_fallback=False,
    completion_timeout_seconds_per_gib=60,
    bandwidth_mibps=config.get_int("bandwidthMibps") or 0,
    opts=on_lab,
)

vms: dict = config.require_object("vms")
pools: dict = config.get_object("pools") or {}

placements = {
    vm: vmplacement.VmPlacement(
        vm,
        domain=vm,
        host=host,
        storage_pool=pools.get(vm, "local"),
        policy=policy.spec,
        opts=on_lab,
    )
    for vm, host in vms.items()
}

pulumi.export("where", {vm: p.current_host for vm, p in placements.items()})
pulumi.export(
    "lastMigrations",
    {
        vm: p.last_migration.apply(lambda r: r and {schema_name(k): v for k, v in r.items()})
        for vm, p in placements.items()
    },
)
