import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  CreateSecurityGroupCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import {
  CreateAccessPointCommand,
  CreateFileSystemCommand,
  CreateMountTargetCommand,
  CreateTagsCommand,
  DeleteAccessPointCommand,
  DeleteFileSystemCommand,
  DeleteMountTargetCommand,
  DeleteTagsCommand,
  DescribeAccessPointsCommand,
  DescribeFileSystemsCommand,
  DescribeMountTargetSecurityGroupsCommand,
  DescribeMountTargetsCommand,
  DescribeTagsCommand,
  EFSClient,
  ListTagsForResourceCommand,
  ModifyMountTargetSecurityGroupsCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFileSystemCommand,
  paginateDescribeFileSystems,
} from "@aws-sdk/client-efs";
import { efsHostPath } from "../src/services/efs.js";
import { startSim, type TestSim } from "./helpers.js";

const error = (name: string, status: number) => (e: any) => {
  assert.equal(e.name, name, e.message);
  assert.equal(e.$metadata.httpStatusCode, status);
  return true;
};

describe("EFS", () => {
  let sim: TestSim;
  let efs: EFSClient;
  let ec2: EC2Client;
  let fsId: string;
  let apId: string;

  before(async () => {
    sim = await startSim();
    efs = new EFSClient(sim.client);
    ec2 = new EC2Client(sim.client);
  });
  after(async () => {
    efs.destroy();
    ec2.destroy();
    await sim.cleanup();
  });

  it("creates file systems idempotently by creation token", async () => {
    const created = await efs.send(
      new CreateFileSystemCommand({ CreationToken: "tok-1", Tags: [{ Key: "Name", Value: "shared" }] }),
    );
    fsId = created.FileSystemId!;
    assert.match(fsId, /^fs-[0-9a-f]{8}$/);
    assert.equal(created.LifeCycleState, "available");
    assert.equal(created.Name, "shared");
    assert.equal(
      created.FileSystemArn,
      `arn:aws:elasticfilesystem:us-east-1:000000000000:file-system/${fsId}`,
    );
    assert.equal(created.PerformanceMode, "generalPurpose");
    assert.equal(created.ThroughputMode, "bursting");
    assert.equal(created.NumberOfMountTargets, 0);
    assert.equal(created.$metadata.httpStatusCode, 201);

    await assert.rejects(efs.send(new CreateFileSystemCommand({ CreationToken: "tok-1" })), (e: any) => {
      error("FileSystemAlreadyExists", 409)(e);
      assert.equal(e.FileSystemId, fsId);
      return true;
    });
    await assert.rejects(
      efs.send(new CreateFileSystemCommand({ CreationToken: "tok-x", ThroughputMode: "provisioned" })),
      error("BadRequest", 400),
    );

    const byId = await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }));
    assert.equal(byId.FileSystems![0].CreationToken, "tok-1");
    const byToken = await efs.send(new DescribeFileSystemsCommand({ CreationToken: "tok-1" }));
    assert.equal(byToken.FileSystems![0].FileSystemId, fsId);
    await assert.rejects(
      efs.send(new DescribeFileSystemsCommand({ FileSystemId: "fs-00000000" })),
      error("FileSystemNotFound", 404),
    );

    for (const t of ["tok-2", "tok-3"]) await efs.send(new CreateFileSystemCommand({ CreationToken: t }));
    const updated = await efs.send(
      new UpdateFileSystemCommand({
        FileSystemId: fsId,
        ThroughputMode: "provisioned",
        ProvisionedThroughputInMibps: 64,
      }),
    );
    assert.equal(updated.ThroughputMode, "provisioned");
    assert.equal(updated.ProvisionedThroughputInMibps, 64);
    assert.equal(updated.$metadata.httpStatusCode, 202);

    const pages: number[] = [];
    for await (const p of paginateDescribeFileSystems({ client: efs, pageSize: 2 }, {}))
      pages.push(p.FileSystems!.length);
    assert.deepEqual(pages, [2, 1]);
  });

  it("backs each file system with a real directory", async () => {
    const dir = efsHostPath(sim.sim, fsId);
    assert.equal(dir, path.join(sim.dataDir, "efs", fsId));
    assert.ok(statSync(dir).isDirectory());
    writeFileSync(path.join(dir, "hello.txt"), "x".repeat(1000));
    const { FileSystems } = await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }));
    assert.equal(FileSystems![0].SizeInBytes!.Value, 1000);
  });

  it("creates access points whose root directory is made on use", async () => {
    const ap = await efs.send(
      new CreateAccessPointCommand({
        ClientToken: "ap-1",
        FileSystemId: fsId,
        PosixUser: { Uid: 1000, Gid: 1000 },
        RootDirectory: {
          Path: "/data/app",
          CreationInfo: { OwnerUid: 1000, OwnerGid: 1000, Permissions: "750" },
        },
        Tags: [{ Key: "Name", Value: "app" }],
      }),
    );
    apId = ap.AccessPointId!;
    assert.match(apId, /^fsap-[0-9a-f]{17}$/);
    assert.equal(ap.LifeCycleState, "available");
    assert.equal(ap.Name, "app");
    assert.deepEqual(ap.PosixUser, { Uid: 1000, Gid: 1000 });
    // the retried request returns the same access point
    const again = await efs.send(new CreateAccessPointCommand({ ClientToken: "ap-1", FileSystemId: fsId }));
    assert.equal(again.AccessPointId, apId);
    await assert.rejects(
      efs.send(
        new CreateAccessPointCommand({
          ClientToken: "ap-2",
          FileSystemId: fsId,
          RootDirectory: { Path: "/../etc" },
        }),
      ),
      error("BadRequest", 400),
    );
    await assert.rejects(
      efs.send(new CreateAccessPointCommand({ ClientToken: "ap-3", FileSystemId: "fs-00000000" })),
      error("FileSystemNotFound", 404),
    );

    const dir = efsHostPath(sim.sim, fsId, apId);
    assert.equal(dir, path.join(sim.dataDir, "efs", fsId, "data", "app"));
    assert.equal(statSync(dir).mode & 0o777, 0o750);

    const listed = await efs.send(new DescribeAccessPointsCommand({ FileSystemId: fsId }));
    assert.deepEqual(
      listed.AccessPoints!.map((a) => a.AccessPointId),
      [apId],
    );
    await assert.rejects(
      efs.send(new DeleteAccessPointCommand({ AccessPointId: "fsap-00000000000000000" })),
      error("AccessPointNotFound", 404),
    );
  });

  it("creates mount targets with addresses in the subnet", async () => {
    const { Subnets } = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }),
    );
    const [a, b] = Subnets!;
    const mt = await efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: a.SubnetId }));
    assert.match(mt.MountTargetId!, /^fsmt-[0-9a-f]{8}$/);
    assert.equal(mt.LifeCycleState, "available");
    assert.equal(mt.VpcId, a.VpcId);
    assert.equal(mt.AvailabilityZoneName, a.AvailabilityZone);
    assert.ok(mt.IpAddress!.startsWith(a.CidrBlock!.split(".").slice(0, 2).join(".")));
    await assert.rejects(
      efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: a.SubnetId })),
      error("MountTargetConflict", 409),
    );
    await assert.rejects(
      efs.send(new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: "subnet-0000000000000000f" })),
      error("SubnetNotFound", 400),
    );
    const mt2 = await efs.send(
      new CreateMountTargetCommand({ FileSystemId: fsId, SubnetId: b.SubnetId, IpAddress: "172.31.16.100" }),
    );
    assert.equal(mt2.IpAddress, "172.31.16.100");

    const listed = await efs.send(new DescribeMountTargetsCommand({ FileSystemId: fsId }));
    assert.equal(listed.MountTargets!.length, 2);
    const viaAp = await efs.send(new DescribeMountTargetsCommand({ AccessPointId: apId }));
    assert.equal(viaAp.MountTargets!.length, 2);
    const groups = await efs.send(
      new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }),
    );
    assert.equal(groups.SecurityGroups!.length, 1);
    const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: "nfs", Description: "nfs" }));
    await efs.send(
      new ModifyMountTargetSecurityGroupsCommand({
        MountTargetId: mt.MountTargetId,
        SecurityGroups: [sg.GroupId!],
      }),
    );
    const changed = await efs.send(
      new DescribeMountTargetSecurityGroupsCommand({ MountTargetId: mt.MountTargetId }),
    );
    assert.deepEqual(changed.SecurityGroups, [sg.GroupId]);
    await assert.rejects(
      efs.send(
        new ModifyMountTargetSecurityGroupsCommand({
          MountTargetId: mt.MountTargetId,
          SecurityGroups: ["sg-0000000000000000f"],
        }),
      ),
      error("SecurityGroupNotFound", 400),
    );
    // the mount target holds a network interface, as in EC2
    const enis = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: "addresses.private-ip-address", Values: [mt.IpAddress!] }],
      }),
    );
    assert.equal(enis.NetworkInterfaces![0].NetworkInterfaceId, mt.NetworkInterfaceId);
    assert.equal(
      (await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }))).FileSystems![0]
        .NumberOfMountTargets,
      2,
    );

    await assert.rejects(
      efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId })),
      error("FileSystemInUse", 409),
    );
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt.MountTargetId }));
    await efs.send(new DeleteMountTargetCommand({ MountTargetId: mt2.MountTargetId }));
    await assert.rejects(
      efs.send(new DeleteMountTargetCommand({ MountTargetId: mt2.MountTargetId })),
      error("MountTargetNotFound", 404),
    );
    const gone = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [{ Name: "addresses.private-ip-address", Values: [mt.IpAddress!] }],
      }),
    );
    assert.deepEqual(gone.NetworkInterfaces, []);
  });

  it("tags file systems and access points", async () => {
    await efs.send(new TagResourceCommand({ ResourceId: fsId, Tags: [{ Key: "env", Value: "dev" }] }));
    const arn = `arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/${apId}`;
    await efs.send(new TagResourceCommand({ ResourceId: arn, Tags: [{ Key: "team", Value: "a" }] }));
    assert.deepEqual((await efs.send(new ListTagsForResourceCommand({ ResourceId: fsId }))).Tags, [
      { Key: "Name", Value: "shared" },
      { Key: "env", Value: "dev" },
    ]);
    await efs.send(new UntagResourceCommand({ ResourceId: apId, TagKeys: ["Name"] }));
    // the older per-file-system tag operations
    await efs.send(new CreateTagsCommand({ FileSystemId: fsId, Tags: [{ Key: "old", Value: "style" }] }));
    await efs.send(new DeleteTagsCommand({ FileSystemId: fsId, TagKeys: ["env"] }));
    assert.deepEqual((await efs.send(new DescribeTagsCommand({ FileSystemId: fsId }))).Tags, [
      { Key: "Name", Value: "shared" },
      { Key: "old", Value: "style" },
    ]);
    assert.deepEqual((await efs.send(new ListTagsForResourceCommand({ ResourceId: apId }))).Tags, [
      { Key: "team", Value: "a" },
    ]);
  });

  it("keeps file systems across a restart and deletes their data with them", async () => {
    sim = await sim.restart();
    efs.destroy();
    efs = new EFSClient(sim.client);
    const { FileSystems } = await efs.send(new DescribeFileSystemsCommand({ FileSystemId: fsId }));
    assert.equal(FileSystems![0].Name, "shared");
    const dir = efsHostPath(sim.sim, fsId);
    assert.ok(existsSync(path.join(dir, "hello.txt")));

    // access points hold the file system until they are gone
    await assert.rejects(
      efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId })),
      error("FileSystemInUse", 409),
    );
    await efs.send(new DeleteAccessPointCommand({ AccessPointId: apId }));
    await efs.send(new DeleteFileSystemCommand({ FileSystemId: fsId }));
    assert.equal(existsSync(dir), false);
    assert.throws(
      () => efsHostPath(sim.sim, fsId),
      (e: any) => e.code === "FileSystemNotFound",
    );
  });
});
