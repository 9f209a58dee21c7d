import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteTagsCommand,
  DeleteVpcCommand,
  DescribeAvailabilityZonesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  paginateDescribeVpcs,
} from "@aws-sdk/client-ec2";
import { allocatePrivateIp, releasePrivateIp, subnetInfo } from "../src/services/ec2.js";
import { startSim, type TestSim } from "./helpers.js";

const run = promisify(execFile);
const code = (name: string) => (e: any) => {
  assert.equal(e.name, name, e.message);
  return true;
};

describe("EC2", () => {
  let sim: TestSim;
  let ec2: EC2Client;
  let defaultVpcId: string;

  before(async () => {
    sim = await startSim();
    ec2 = new EC2Client(sim.client);
  });
  after(async () => {
    ec2.destroy();
    await sim.cleanup();
  });

  it("starts with a default VPC, default subnets and a default security group", async () => {
    const { Vpcs } = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: "isDefault", Values: ["true"] }] }),
    );
    assert.equal(Vpcs!.length, 1);
    assert.equal(Vpcs![0].CidrBlock, "172.31.0.0/16");
    assert.equal(Vpcs![0].IsDefault, true);
    assert.equal(Vpcs![0].State, "available");
    assert.match(Vpcs![0].VpcId!, /^vpc-[0-9a-f]{17}$/);
    defaultVpcId = Vpcs![0].VpcId!;

    const { Subnets } = await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [defaultVpcId] }] }),
    );
    assert.equal(Subnets!.length, 6);
    assert.deepEqual(
      Subnets!.map((s) => s.AvailabilityZone),
      ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"],
    );
    assert.ok(Subnets!.every((s) => s.DefaultForAz && s.MapPublicIpOnLaunch && s.CidrBlock!.endsWith("/20")));
    assert.equal(Subnets![0].AvailableIpAddressCount, 4091);

    const { SecurityGroups } = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: "vpc-id", Values: [defaultVpcId] }] }),
    );
    assert.equal(SecurityGroups!.length, 1);
    const sg = SecurityGroups![0];
    assert.equal(sg.GroupName, "default");
    assert.deepEqual(sg.IpPermissionsEgress![0].IpRanges, [{ CidrIp: "0.0.0.0/0" }]);
    assert.equal(sg.IpPermissionsEgress![0].IpProtocol, "-1");
    assert.equal(sg.IpPermissions![0].UserIdGroupPairs![0].GroupId, sg.GroupId);
  });

  it("creates VPCs and subnets with AWS's CIDR rules", async () => {
    const { Vpc } = await ec2.send(
      new CreateVpcCommand({
        CidrBlock: "10.0.0.0/16",
        TagSpecifications: [{ ResourceType: "vpc", Tags: [{ Key: "Name", Value: "main" }] }],
      }),
    );
    const vpcId = Vpc!.VpcId!;
    assert.equal(Vpc!.CidrBlock, "10.0.0.0/16");
    assert.deepEqual(Vpc!.Tags, [{ Key: "Name", Value: "main" }]);
    await assert.rejects(
      ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/8" })),
      code("InvalidVpc.Range"),
    );
    await assert.rejects(
      ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.300/16" })),
      code("InvalidParameterValue"),
    );

    const byTag = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: "tag:Name", Values: ["ma*"] }] }),
    );
    assert.deepEqual(
      byTag.Vpcs!.map((v) => v.VpcId),
      [vpcId],
    );
    const byKey = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: "tag-key", Values: ["Name"] }] }),
    );
    assert.equal(byKey.Vpcs!.length, 1);

    const a = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.0.1.0/24", AvailabilityZone: "us-east-1b" }),
    );
    assert.equal(a.Subnet!.AvailabilityZone, "us-east-1b");
    assert.equal(a.Subnet!.AvailableIpAddressCount, 251);
    const b = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.0.2.0/24" }));
    assert.notEqual(b.Subnet!.AvailabilityZone, "us-east-1b"); // spread over zones
    await assert.rejects(
      ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.0.1.128/25" })),
      code("InvalidSubnet.Conflict"),
    );
    await assert.rejects(
      ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.1.0.0/24" })),
      code("InvalidSubnet.Range"),
    );
    await assert.rejects(
      ec2.send(new CreateSubnetCommand({ VpcId: "vpc-0000000000000000f", CidrBlock: "10.0.3.0/24" })),
      code("InvalidVpcID.NotFound"),
    );
    await assert.rejects(
      ec2.send(new CreateSubnetCommand({ VpcId: vpcId } as any)),
      code("MissingParameter"),
    );
    await assert.rejects(
      ec2.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.0.9.0/24", AvailabilityZone: "us-east-1z" }),
      ),
      code("InvalidParameterValue"),
    );

    const listed = await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [a.Subnet!.SubnetId!] }));
    assert.equal(listed.Subnets![0].CidrBlock, "10.0.1.0/24");
    await assert.rejects(
      ec2.send(new DescribeSubnetsCommand({ SubnetIds: ["subnet-0000000000000000f"] })),
      code("InvalidSubnetID.NotFound"),
    );

    await assert.rejects(ec2.send(new DeleteVpcCommand({ VpcId: vpcId })), code("DependencyViolation"));
    await ec2.send(new DeleteSubnetCommand({ SubnetId: a.Subnet!.SubnetId! }));
    await ec2.send(new DeleteSubnetCommand({ SubnetId: b.Subnet!.SubnetId! }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
    await assert.rejects(
      ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })),
      code("InvalidVpcID.NotFound"),
    );
  });

  it("pages DescribeVpcs with MaxResults and NextToken", async () => {
    for (let i = 0; i < 6; i++) await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${i}.0.0/16` }));
    const pages: number[] = [];
    for await (const p of paginateDescribeVpcs({ client: ec2, pageSize: 5 }, {})) pages.push(p.Vpcs!.length);
    assert.deepEqual(pages, [5, 2]);
    await assert.rejects(ec2.send(new DescribeVpcsCommand({ MaxResults: 2 })), code("InvalidParameterValue"));
  });

  it("manages security groups and their rules", async () => {
    const web = await ec2.send(new CreateSecurityGroupCommand({ GroupName: "web", Description: "web tier" }));
    assert.match(web.GroupId!, /^sg-[0-9a-f]{17}$/);
    await assert.rejects(
      ec2.send(new CreateSecurityGroupCommand({ GroupName: "web", Description: "again" })),
      code("InvalidGroup.Duplicate"),
    );
    const db = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: "db", Description: "db tier", VpcId: defaultVpcId }),
    );

    const auth = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: web.GroupId,
        IpPermissions: [
          {
            IpProtocol: "tcp",
            FromPort: 80,
            ToPort: 80,
            IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "http" }],
          },
          { IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "10.0.0.0/8" }] },
        ],
      }),
    );
    assert.equal(auth.Return, true);
    assert.equal(auth.SecurityGroupRules!.length, 2);
    assert.match(auth.SecurityGroupRules![0].SecurityGroupRuleId!, /^sgr-/);
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: db.GroupId,
        IpPermissions: [
          { IpProtocol: "tcp", FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: web.GroupId }] },
        ],
      }),
    );
    await assert.rejects(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: web.GroupId,
          IpProtocol: "tcp",
          FromPort: 80,
          ToPort: 80,
          CidrIp: "0.0.0.0/0",
        }),
      ),
      code("InvalidPermission.Duplicate"),
    );
    await assert.rejects(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: "sg-0000000000000000f",
          IpPermissions: [{ IpProtocol: "tcp", FromPort: 1, ToPort: 1, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
        }),
      ),
      code("InvalidGroup.NotFound"),
    );

    const { SecurityGroups } = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: ["web", "db"] }] }),
    );
    const byName = Object.fromEntries(SecurityGroups!.map((g) => [g.GroupName, g]));
    assert.deepEqual(
      byName.web.IpPermissions!.map((p) => [
        p.IpProtocol,
        p.FromPort,
        p.ToPort,
        p.IpRanges!.map((r) => r.CidrIp),
      ]),
      [
        ["tcp", 80, 80, ["0.0.0.0/0"]],
        ["tcp", 443, 443, ["10.0.0.0/8"]],
      ],
    );
    assert.equal(byName.web.IpPermissions![0].IpRanges![0].Description, "http");
    assert.equal(byName.db.IpPermissions![0].UserIdGroupPairs![0].GroupId, web.GroupId);
    assert.equal(byName.web.VpcId, defaultVpcId);

    // egress: new groups allow everything out; replace that with one port
    await ec2.send(
      new RevokeSecurityGroupEgressCommand({
        GroupId: db.GroupId,
        IpPermissions: [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
      }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: db.GroupId,
        IpPermissions: [
          { IpProtocol: "udp", FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: "10.0.0.2/32" }] },
        ],
      }),
    );
    const [dbNow] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [db.GroupId!] })))
      .SecurityGroups!;
    assert.deepEqual(
      dbNow.IpPermissionsEgress!.map((p) => [p.IpProtocol, p.FromPort, p.IpRanges![0].CidrIp]),
      [["udp", 53, "10.0.0.2/32"]],
    );

    // referenced by db's rule: can't go yet
    await assert.rejects(
      ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId })),
      code("DependencyViolation"),
    );
    const revoked = await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: db.GroupId,
        IpPermissions: [
          { IpProtocol: "tcp", FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: web.GroupId }] },
        ],
      }),
    );
    assert.equal(revoked.Return, true);
    const unknown = await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: db.GroupId,
        IpPermissions: [{ IpProtocol: "tcp", FromPort: 1, ToPort: 1, IpRanges: [{ CidrIp: "1.2.3.4/32" }] }],
      }),
    );
    assert.equal(unknown.UnknownIpPermissions!.length, 1);
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: web.GroupId }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupName: "db" }));
    await assert.rejects(
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [web.GroupId!] })),
      code("InvalidGroup.NotFound"),
    );
    await assert.rejects(
      ec2.send(new DeleteSecurityGroupCommand({ GroupName: "default" })),
      code("CannotDelete"),
    );
  });

  it("tags resources and describes tags", async () => {
    await ec2.send(
      new CreateTagsCommand({
        Resources: [defaultVpcId],
        Tags: [
          { Key: "env", Value: "dev" },
          { Key: "owner", Value: "me" },
        ],
      }),
    );
    const { Tags } = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: "resource-id", Values: [defaultVpcId] }] }),
    );
    assert.deepEqual(Tags, [
      { ResourceId: defaultVpcId, ResourceType: "vpc", Key: "env", Value: "dev" },
      { ResourceId: defaultVpcId, ResourceType: "vpc", Key: "owner", Value: "me" },
    ]);
    await ec2.send(new DeleteTagsCommand({ Resources: [defaultVpcId], Tags: [{ Key: "owner" }] }));
    const left = await ec2.send(
      new DescribeTagsCommand({ Filters: [{ Name: "key", Values: ["env", "owner"] }] }),
    );
    assert.deepEqual(
      left.Tags!.map((t) => t.Key),
      ["env"],
    );
    await assert.rejects(
      ec2.send(new CreateTagsCommand({ Resources: ["i-123"], Tags: [{ Key: "a", Value: "b" }] })),
      code("InvalidID"),
    );
    await assert.rejects(
      ec2.send(
        new CreateTagsCommand({ Resources: ["vpc-0000000000000000f"], Tags: [{ Key: "a", Value: "b" }] }),
      ),
      code("InvalidVpcID.NotFound"),
    );
    await assert.rejects(
      ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: "no-such-filter", Values: ["x"] }] })),
      code("InvalidParameterValue"),
    );
  });

  it("answers DryRun requests with DryRunOperation", async () => {
    await assert.rejects(
      ec2.send(new CreateVpcCommand({ CidrBlock: "10.9.0.0/16", DryRun: true })),
      (e: any) => {
        assert.equal(e.name, "DryRunOperation");
        assert.equal(e.$metadata.httpStatusCode, 412);
        return true;
      },
    );
    const { Vpcs } = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: "cidr", Values: ["10.9.0.0/16"] }] }),
    );
    assert.deepEqual(Vpcs, []);
  });

  it("describes availability zones", async () => {
    const { AvailabilityZones } = await ec2.send(new DescribeAvailabilityZonesCommand({}));
    assert.equal(AvailabilityZones!.length, 6);
    assert.deepEqual(AvailabilityZones![0], {
      ZoneName: "us-east-1a",
      ZoneId: "use1-az1",
      State: "available",
      RegionName: "us-east-1",
      ZoneType: "availability-zone",
      OptInStatus: "opt-in-not-required",
      GroupName: "us-east-1",
      NetworkBorderGroup: "us-east-1",
      Messages: [],
    });
    const one = await ec2.send(new DescribeAvailabilityZonesCommand({ ZoneNames: ["us-east-1c"] }));
    assert.equal(one.AvailabilityZones![0].ZoneId, "use1-az3");
  });

  it("allocates private addresses for other services as network interfaces", async () => {
    const { Vpc } = await ec2.send(new CreateVpcCommand({ CidrBlock: "192.168.0.0/16" }));
    const { Subnet } = await ec2.send(
      new CreateSubnetCommand({ VpcId: Vpc!.VpcId, CidrBlock: "192.168.5.0/28" }),
    );
    const id = Subnet!.SubnetId!;
    assert.deepEqual(subnetInfo(sim.sim, id), {
      vpcId: Vpc!.VpcId,
      cidr: "192.168.5.0/28",
      az: Subnet!.AvailabilityZone,
    });
    assert.equal(subnetInfo(sim.sim, "subnet-missing"), undefined);
    const ips = Array.from({ length: 11 }, () => allocatePrivateIp(sim.sim, id, { description: "task" }));
    // .0-.3 and .15 are reserved: 11 usable addresses
    assert.deepEqual(
      ips,
      Array.from({ length: 11 }, (_, i) => `192.168.5.${i + 4}`),
    );
    assert.throws(() => allocatePrivateIp(sim.sim, id), code("InsufficientFreeAddressesInSubnet"));
    const enis = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "subnet-id", Values: [id] }] }),
    );
    assert.equal(enis.NetworkInterfaces!.length, 11);
    assert.equal(enis.NetworkInterfaces![0].PrivateIpAddress, "192.168.5.4");
    assert.equal(enis.NetworkInterfaces![0].VpcId, Vpc!.VpcId);
    assert.equal(enis.NetworkInterfaces![0].Description, "task");
    const [s] = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] }))).Subnets!;
    assert.equal(s.AvailableIpAddressCount, 0);
    await assert.rejects(ec2.send(new DeleteSubnetCommand({ SubnetId: id })), code("DependencyViolation"));

    releasePrivateIp(sim.sim, id, "192.168.5.6");
    assert.equal(allocatePrivateIp(sim.sim, id), "192.168.5.6");
    for (const ip of ips) releasePrivateIp(sim.sim, id, ip);
    const none = await ec2.send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "subnet-id", Values: [id] }] }),
    );
    assert.deepEqual(none.NetworkInterfaces, []);
    await ec2.send(new DeleteSubnetCommand({ SubnetId: id }));
  });

  it("answers the aws CLI and keeps state across a restart", async () => {
    const { stdout } = await run(
      "aws",
      ["ec2", "describe-vpcs", "--filters", "Name=is-default,Values=true", "--output", "json"],
      {
        env: { ...process.env, ...sim.cliEnv },
      },
    );
    assert.equal(JSON.parse(stdout).Vpcs[0].VpcId, defaultVpcId);

    sim = await sim.restart();
    ec2.destroy();
    ec2 = new EC2Client(sim.client);
    const { Vpcs } = await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: "isDefault", Values: ["true"] }] }),
    );
    assert.equal(Vpcs!.length, 1);
    assert.equal(Vpcs![0].VpcId, defaultVpcId); // not recreated
    assert.deepEqual(Vpcs![0].Tags, [{ Key: "env", Value: "dev" }]);
  });
});
