"""EKS: version, access entries, nodes, add-ons, and the app's least-privilege identity."""

import json

import pytest

from .conftest import ADMIN_ROLE_ARN
from .support import actions_of, flatten, logical_id, only, resources, statements_of_role


def cluster_config(template):
    return only(template, "Custom::AWSCDK-EKS-Cluster")["Properties"]["Config"]


def test_the_cluster_runs_kubernetes_1_36_with_api_access_entries_only(each_env):
    config = cluster_config(each_env.cluster)
    env = each_env.stacks.settings.env.name
    assert config["name"] == f"chairtime-{env}"
    assert config["version"] == "1.36"
    # API: access entries only; the aws-auth ConfigMap is not consulted.
    assert config["accessConfig"] == {"authenticationMode": "API"}
    assert not resources(each_env.cluster, "Custom::AWSCDK-EKS-KubernetesPatch")  # no aws-auth patching


def test_the_control_plane_logs_everything_and_encrypts_secrets(each_env):
    config = cluster_config(each_env.cluster)
    assert config["logging"] == {
        "clusterLogging": [
            {"enabled": True, "types": ["api", "audit", "authenticator", "controllerManager", "scheduler"]}
        ]
    }
    assert config["encryptionConfig"][0]["resources"] == ["secrets"]
    assert config["encryptionConfig"][0]["provider"]["keyArn"]["Fn::GetAtt"][0].startswith("SecretsKey")
    groups = [
        g["Properties"]["LogGroupName"] for g in resources(each_env.cluster, "AWS::Logs::LogGroup").values()
    ]
    assert f"/aws/eks/{config['name']}/cluster" in groups


def test_the_control_plane_sits_in_the_private_subnets(each_env):
    subnets = cluster_config(each_env.cluster)["resourcesVpcConfig"]["subnetIds"]
    assert len(subnets) == each_env.stacks.settings.env.max_azs
    assert all("Vpcprivate" in flatten(s) for s in subnets)


def test_prod_cluster_is_protected_from_deletion(staging, prod):
    assert cluster_config(staging.cluster)["deletionProtection"] is False
    assert cluster_config(prod.cluster)["deletionProtection"] is True
    assert prod.stacks.cluster.termination_protection is True
    assert staging.stacks.cluster.termination_protection is False


def test_the_admin_role_from_the_context_gets_cluster_admin(each_env):
    entries = resources(each_env.cluster, "AWS::EKS::AccessEntry")
    assert [e["Properties"]["PrincipalArn"] for e in entries.values()] == [ADMIN_ROLE_ARN]
    [entry] = entries.values()
    [policy] = entry["Properties"]["AccessPolicies"]
    assert policy["AccessScope"] == {"Type": "cluster"}
    assert flatten(policy["PolicyArn"]).endswith(
        ":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    )


@pytest.mark.parametrize(
    ("env", "instance", "sizes"), [("staging", "c6a.large", (2, 2, 4)), ("prod", "m7i.large", (3, 3, 6))]
)
def test_a_managed_node_group_runs_in_the_private_subnets(request, env, instance, sizes):
    template = request.getfixturevalue(env).cluster
    props = only(template, "AWS::EKS::Nodegroup")["Properties"]
    assert props["InstanceTypes"] == [instance]
    assert props["AmiType"] == "AL2023_x86_64_STANDARD"
    assert props["CapacityType"] == "ON_DEMAND"
    assert (
        props["ScalingConfig"]["MinSize"],
        props["ScalingConfig"]["DesiredSize"],
        props["ScalingConfig"]["MaxSize"],
    ) == sizes
    assert len(props["Subnets"]) == (2 if env == "staging" else 3)
    assert all("Vpcprivate" in flatten(s) for s in props["Subnets"])


def test_nodes_require_imdsv2_with_one_hop_so_pods_cannot_take_the_node_role(each_env):
    data = only(each_env.cluster, "AWS::EC2::LaunchTemplate")["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"] == {"HttpPutResponseHopLimit": 1, "HttpTokens": "required"}
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def test_managed_addons_include_pod_identity_and_network_policies(each_env):
    addons = {
        a["Properties"]["AddonName"]: a["Properties"]
        for a in resources(each_env.cluster, "AWS::EKS::Addon").values()
    }
    assert set(addons) == {
        "vpc-cni",
        "kube-proxy",
        "coredns",
        "eks-pod-identity-agent",
        "amazon-cloudwatch-observability",  # test_observability.py
    }
    # Network policies on; the rest of its configuration: tests/test_pod_security_groups.py.
    assert json.loads(addons["vpc-cni"]["ConfigurationValues"])["enableNetworkPolicy"] == "true"


def managed_policy_names(role: dict) -> set[str]:
    return {flatten(arn).rsplit("/", 1)[-1] for arn in role["Properties"].get("ManagedPolicyArns", [])}


def test_the_vpc_cni_has_its_own_pod_identity_role_and_the_nodes_no_cni_rights(each_env):
    template = each_env.cluster
    addons = {a["Properties"]["AddonName"]: (k, a) for k, a in resources(template, "AWS::EKS::Addon").items()}
    cni_id, cni = addons["vpc-cni"]
    [association] = cni["Properties"]["PodIdentityAssociations"]
    assert association["ServiceAccount"] == "aws-node"
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    role = resources(template, "AWS::IAM::Role")[role_id]
    assert managed_policy_names(role) == {"AmazonEKS_CNI_Policy"}
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert set(trust["Action"]) == {"sts:AssumeRole", "sts:TagSession"}
    assert not statements_of_role(template, role_id)  # nothing beyond the managed policy
    # The nodes' role: no CNI policy (CDK's default node role would have it).
    nodegroup = only(template, "AWS::EKS::Nodegroup")
    node_role = resources(template, "AWS::IAM::Role")[nodegroup["Properties"]["NodeRole"]["Fn::GetAtt"][0]]
    assert managed_policy_names(node_role) == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryPullOnly",
    }
    # The CNI (and the agent its credentials come through) exist before the nodes start.
    agent_id, _ = addons["eks-pod-identity-agent"]
    assert {cni_id, agent_id} <= set(nodegroup["DependsOn"])
    assert agent_id in cni["DependsOn"]


def test_helm_installs_the_load_balancer_controller_csi_secrets_driver_and_metrics_server(each_env):
    charts = {
        c["Properties"]["Chart"]: c["Properties"]
        for c in resources(each_env.cluster, "Custom::AWSCDK-EKS-HelmChart").values()
    }
    assert set(charts) == {
        "aws-load-balancer-controller",
        "secrets-store-csi-driver-provider-aws",
        "metrics-server",
    }
    csi = charts["secrets-store-csi-driver-provider-aws"]
    assert json.loads(csi["Values"]) == {
        "secrets-store-csi-driver": {"install": True, "syncSecret": {"enabled": False}}
    }
    assert csi["Version"] == "2.2.0"
    assert "v2.17.1" in flatten(charts["aws-load-balancer-controller"]["Values"])
    # Its chart waits for ready pods, so it comes after the nodes.
    [alb] = [
        c
        for c in resources(each_env.cluster, "Custom::AWSCDK-EKS-HelmChart").values()
        if c["Properties"]["Chart"] == "aws-load-balancer-controller"
    ]
    assert logical_id(each_env.cluster, "AWS::EKS::Nodegroup", "ClusterNodegroupNodes") in alb["DependsOn"]


def manifest_objects(template):
    objects = []
    for resource in resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values():
        manifest = resource["Properties"]["Manifest"]
        if isinstance(manifest, str):
            objects.extend(json.loads(manifest))
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_the_stack_makes_the_namespace_with_the_overlays_labels(each_env):
    namespace = each_env.stacks.settings.env.namespace
    labels = manifest_objects(each_env.cluster)[("Namespace", namespace)]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_deployers_may_patch_only_their_namespace_and_manage_its_two_custom_resources(each_env):
    namespace = each_env.stacks.settings.env.namespace
    objects = manifest_objects(each_env.cluster)
    cluster_role = objects[("ClusterRole", f"chairtime-deployers-{namespace}")]
    assert cluster_role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": [namespace],
            "verbs": ["get", "patch"],
        }
    ]
    role = objects[("Role", "chairtime-deployers")]
    assert role["metadata"]["namespace"] == namespace
    assert [(r["apiGroups"], r["resources"]) for r in role["rules"]] == [
        (["secrets-store.csi.x-k8s.io"], ["secretproviderclasses"]),
        (["vpcresources.k8s.aws"], ["securitygrouppolicies"]),
    ]
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = next(o for (k, _), o in objects.items() if k == kind)
        assert binding["subjects"] == [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "chairtime-deployers"}
        ]


def test_the_pods_service_account_is_associated_with_the_app_role(each_env):
    template = each_env.cluster
    association = only(template, "AWS::EKS::PodIdentityAssociation")
    role_id = logical_id(template, "AWS::IAM::Role", "AppRole")
    assert association["Properties"]["Namespace"] == each_env.stacks.settings.env.namespace
    assert association["Properties"]["ServiceAccount"] == "chairtime"
    assert association["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert logical_id(template, "AWS::EKS::Addon", "Addonekspodidentityagent") in association["DependsOn"]
    trust = resources(template, "AWS::IAM::Role")[role_id]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert trust == [
        {
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
        }
    ]


def test_the_app_role_grants_exactly_its_table_its_db_user_and_its_secret(each_env):
    template = each_env.cluster
    env = each_env.stacks.settings.env.name
    statements = {
        s["Sid"]: s for s in statements_of_role(template, logical_id(template, "AWS::IAM::Role", "AppRole"))
    }
    assert set(statements) == {
        "AnnouncementsTable",
        "DatabaseIamAuth",
        "AppSecret",
        "RedisAuthSecret",
        "DataKeyThroughDynamoDbAndSecretsManager",
        "SendEmailFromTheVerifiedIdentity",  # tests/test_email.py
    }
    assert all(
        s["Effect"] == "Allow" and "Condition" not in s
        for sid, s in statements.items()
        if sid != "DataKeyThroughDynamoDbAndSecretsManager"
    )

    table = statements["AnnouncementsTable"]
    assert actions_of(table) == {
        "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem",
        "dynamodb:DeleteItem", "dynamodb:DescribeTable",
    }  # fmt: skip
    # The table's own ARN, from the data stack: not a wildcard, not its indexes.
    assert table["Resource"] == {
        "Fn::ImportValue": f"chairtime-{env}-data:ExportsOutputFnGetAttAnnouncementsFFD7F852ArnF2608A98"
    }

    database = statements["DatabaseIamAuth"]
    assert actions_of(database) == {"rds-db:connect"}
    assert flatten(database["Resource"]) == (
        "arn:aws:rds-db:us-east-1:123456789012:dbuser:"
        f"{{Fn::ImportValue:chairtime-{env}-data:ExportsOutputFnGetAttDatabaseB269D8BBDbiResourceIdFFE1C191}}"
        "/chairtime_app"
    )

    secret = statements["AppSecret"]
    assert actions_of(secret) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert secret["Resource"] == {
        "Fn::ImportValue": f"chairtime-{env}-data:ExportsOutputRefAppSecretFAB5164C4B25CED8"
    }

    redis_auth = statements["RedisAuthSecret"]
    assert actions_of(redis_auth) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    export = redis_auth["Resource"]["Fn::ImportValue"]
    assert export.startswith(f"chairtime-{env}-data:ExportsOutputRefRedisAuthSecret")

    key = statements["DataKeyThroughDynamoDbAndSecretsManager"]
    assert "DataKey" in flatten(key["Resource"])
    assert key["Condition"] == {
        "StringEquals": {
            "kms:ViaService": ["dynamodb.us-east-1.amazonaws.com", "secretsmanager.us-east-1.amazonaws.com"]
        }
    }
    assert "*" not in flatten([s["Resource"] for s in statements.values()])
