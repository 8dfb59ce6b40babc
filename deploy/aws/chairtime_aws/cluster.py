"""The EKS cluster of an environment, its add-ons, and the app's AWS identity."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ses as ses
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from constructs import Construct

from .config import (
    APP_PORT,
    BRANCH_INTERFACES,
    DATABASE_APP_USER,
    DEPLOYERS_GROUP,
    REDIS_PORT,
    SERVICE_ACCOUNT,
    ConfigError,
    Settings,
    export_name,
)
from .data import DataStack
from .observability import Observability

# The newest version aws-cdk-lib and a kubectl layer on PyPI support; EKS's standard
# support of it: eks_support.py (`make aws-check` fails 90 days before it ends).
KUBERNETES_VERSION = eks.KubernetesVersion.V1_36
ALB_CONTROLLER_VERSION = eks.AlbControllerVersion.V2_17_1
# Helm charts (repository, chart, version). The AWS provider's chart installs the
# Secrets Store CSI driver itself as a dependency (secrets-store-csi-driver.install).
SECRETS_STORE_CHART = (
    "https://aws.github.io/secrets-store-csi-driver-provider-aws",
    "secrets-store-csi-driver-provider-aws",
    "2.2.0",
)
METRICS_SERVER_CHART = ("https://kubernetes-sigs.github.io/metrics-server/", "metrics-server", "3.12.2")
# The node role's managed policies: join the cluster (and Pod Identity's
# eks-auth:AssumeRoleForPodIdentity), pull images. The CNI's are on its own role.
NODE_ROLE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly")
VPC_CNI_SERVICE_ACCOUNT = "aws-node"
# The VPC CNI's settings (the add-on's configuration values). Network policies enforce the
# app's NetworkPolicy (deploy/k8s/base/networkpolicy.yaml). ENABLE_POD_ENI turns on security
# groups for pods: each node gets a trunk interface, and a pod a SecurityGroupPolicy selects
# gets a branch interface of its own carrying only that policy's groups (the app pods'
# group, below). Enforcing mode standard, not the default strict: a pod's traffic then
# runs as any pod's does, through its node, but leaves on its own interface; security
# groups do not filter traffic between a pod and its own node (kubelet probes, the Pod
# Identity agent on 169.254.170.23, which strict mode breaks) or pods on the same node,
# and the node's network policy agent sees the pod's traffic as before. Traffic to
# addresses outside the VPC is translated to the node's address and judged by the node's
# security groups (external SNAT off, the default, pinned here).
VPC_CNI_CONFIGURATION = {
    "enableNetworkPolicy": "true",
    "env": {
        "ENABLE_POD_ENI": "true",
        "POD_SECURITY_GROUP_ENFORCING_MODE": "standard",
        "AWS_VPC_K8S_CNI_EXTERNALSNAT": "false",
    },
}
# Lets EKS's VPC resource controller make the trunk and branch network interfaces.
CLUSTER_ROLE_POLICIES = ("AmazonEKSVPCResourceController",)
# The CloudWatch agent's EMF input (deploy/k8s/base/kustomization.yaml, METRICS_EMF_ENDPOINT).
EMF_PORT = 25888
# The namespace's labels, as in deploy/k8s/overlays/<env>/namespace.yaml: the stack
# creates the namespace so the deploy role needs no right to create namespaces.
NAMESPACE_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.36",
    "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
}


class ClusterStack(cdk.Stack):
    """EKS 1.36 with a managed node group in the private subnets.

    Access is through EKS access entries only (authentication mode API, no aws-auth
    ConfigMap): the operators' admin role from ``-c admin_role_arn``, the pipeline's
    deploy role (made by the pipeline stack, mapped to ``chairtime-deployers``, whose
    RBAC is here). The app's pods get their AWS role through EKS Pod Identity, allowed
    exactly: its table, ``rds-db:connect`` as ``chairtime_app``, its own secret, and
    sending e-mail from the SES identity made here.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        vpc: ec2.IVpc,
        logs_key: kms.IKey,
        data: DataStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env = settings.env
        removal = cdk.RemovalPolicy.RETAIN if env.protect else cdk.RemovalPolicy.DESTROY
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

        # EKS writes the control plane's logs here; made first for retention and key.
        control_plane_logs = logs.LogGroup(
            self,
            "ControlPlaneLogs",
            log_group_name=f"/aws/eks/{env.cluster_name}/cluster",
            retention=env.log_retention,
            encryption_key=logs_key,
            removal_policy=removal,
        )
        secrets_key = kms.Key(
            self,
            "SecretsKey",
            alias=f"alias/{env.cluster_name}-eks-secrets",
            description=f"Chairtime {env.name}: envelope encryption of Kubernetes Secrets",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        # The API endpoint is private: the deploy projects run in this VPC (below), and
        # CDK's kubectl handler too (it places it in the private subnets whenever the
        # public endpoint is off or restricted). -c api_allowed_cidrs adds a public
        # endpoint for those CIDRs only (the operators' kubectl), never for anywhere.
        endpoint = eks.EndpointAccess.PRIVATE
        if settings.api_allowed_cidrs:
            endpoint = eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*settings.api_allowed_cidrs)

        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=env.cluster_name,
            version=KUBERNETES_VERSION,
            kubectl_layer=KubectlV36Layer(self, "KubectlLayer"),
            vpc=vpc,
            vpc_subnets=[private],
            endpoint_access=endpoint,
            authentication_mode=eks.AuthenticationMode.API,
            default_capacity=0,
            secrets_encryption_key=secrets_key,
            cluster_logging=[
                eks.ClusterLoggingTypes.API,
                eks.ClusterLoggingTypes.AUDIT,
                eks.ClusterLoggingTypes.AUTHENTICATOR,
                eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
                eks.ClusterLoggingTypes.SCHEDULER,
            ],
            alb_controller=eks.AlbControllerOptions(version=ALB_CONTROLLER_VERSION),
            deletion_protection=env.protect,
            removal_policy=removal,
            output_cluster_name=True,
        )
        self.cluster.node.add_dependency(control_plane_logs)
        for name in CLUSTER_ROLE_POLICIES:
            self.cluster.role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(name))

        if settings.admin_role_arn:
            self.cluster.grant_access(
                "AdminAccess",
                settings.admin_role_arn,
                [
                    eks.AccessPolicy.from_access_policy_name(
                        "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
                    )
                ],
            )
        else:
            cdk.Annotations.of(self).add_warning_v2(
                "chairtime:no-admin-role",
                "No -c admin_role_arn: no operator can use kubectl on this cluster "
                "(add an access entry later with `aws eks create-access-entry`).",
            )

        if env.node_instance_type not in BRANCH_INTERFACES:
            raise ConfigError(
                f"node type {env.node_instance_type}: security groups for pods need a type that "
                f"holds branch network interfaces (config.BRANCH_INTERFACES: {sorted(BRANCH_INTERFACES)})"
            )
        # The VPC CNI and the Pod Identity agent come before the nodes: the CNI's role is
        # its own (Pod Identity), not the node role's, so the nodes' aws-node pods need
        # the association (and the agent) in place to become Ready.
        node_addons = self._add_node_addons()
        nodes = self._add_nodes(env.node_instance_type, env.node_min, env.node_desired, env.node_max, private)
        for addon in node_addons.values():
            nodes.node.add_dependency(addon)
        addons = {**node_addons, **self._add_addons(nodes)}
        # The controller's chart waits for its pods to be ready: give it nodes first.
        if self.cluster.alb_controller is not None:
            self.cluster.alb_controller.node.add_dependency(nodes)
        self._add_charts()
        self._add_namespace_and_deployer_rbac(env.namespace)

        cluster_sg = self.cluster.cluster_security_group_id
        self.app_pods_security_group = self._add_app_pods_security_group(settings, vpc, data, cluster_sg)

        self._add_deployers_network(settings, vpc, cluster_sg)
        self.app_role = self._add_app_identity(settings, data, addons["eks-pod-identity-agent"])
        self.ses_identity = self._add_email_identity(settings, self.app_role)
        self.observability = Observability(
            self,
            "Observability",
            settings=settings,
            cluster=self.cluster,
            nodes=nodes,
            data=data,
            logs_key=logs_key,
        )
        self.observability.addon.node.add_dependency(addons["eks-pod-identity-agent"])

        kubeconfig = f"aws eks update-kubeconfig --name {env.cluster_name} --region {self.region}"
        if settings.admin_role_arn:
            kubeconfig += f" --role-arn {settings.admin_role_arn}"
        cdk.CfnOutput(self, "KubeconfigCommand", value=kubeconfig)
        cdk.CfnOutput(self, "AppRoleArn", value=self.app_role.role_arn)
        cdk.CfnOutput(self, "Namespace", value=env.namespace)
        cdk.CfnOutput(self, "ClusterSecurityGroupId", value=cluster_sg)
        cdk.CfnOutput(
            self,
            "AppPodsSecurityGroupId",
            value=self.app_pods_security_group.security_group_id,
            description="the overlay's SecurityGroupPolicy chairtime-app-pods (docs/aws.md, step 7)",
        )

    def _add_nodes(
        self, instance_type: str, min_size: int, desired: int, max_size: int, subnets: ec2.SubnetSelection
    ) -> eks.Nodegroup:
        # IMDSv2 only, one hop: containers (one hop further) cannot reach the node's
        # instance metadata and its role; pods get credentials from Pod Identity.
        template = ec2.LaunchTemplate(
            self,
            "NodeLaunchTemplate",
            require_imdsv2=True,
            http_put_response_hop_limit=1,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        30, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        # The nodes' own role: joining the cluster, pulling images, and the Pod Identity
        # agent's eks-auth:AssumeRoleForPodIdentity (in AmazonEKSWorkerNodePolicy). Not
        # AmazonEKS_CNI_Policy, which CDK's default node role has: the VPC CNI has its own
        # role (_add_node_addons), so no pod that reaches the node's credentials could
        # change the VPC's network interfaces.
        node_role = iam.Role(
            self,
            "NodeRole",
            description=f"{self.cluster.cluster_name} nodes (no CNI rights: vpc-cni has its own role)",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name) for name in NODE_ROLE_POLICIES
            ],
        )
        return self.cluster.add_nodegroup_capacity(
            "Nodes",
            node_role=node_role,
            instance_types=[ec2.InstanceType(instance_type)],
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            capacity_type=eks.CapacityType.ON_DEMAND,
            min_size=min_size,
            desired_size=desired,
            max_size=max_size,
            max_unavailable=1,
            subnets=subnets,
            enable_node_auto_repair=True,
            launch_template_spec=eks.LaunchTemplateSpec(
                id=template.launch_template_id or "", version=template.latest_version_number
            ),
        )

    def _add_node_addons(self) -> dict[str, eks.CfnAddon]:
        """The VPC CNI, on its own Pod Identity role, and the Pod Identity agent.

        Both are DaemonSets that need no node to become ACTIVE, so they are made before
        the node group (which depends on them). OVERWRITE takes over the self-managed
        copies EKS installs at creation."""
        agent = eks.CfnAddon(
            self,
            "Addon-eks-pod-identity-agent",
            addon_name="eks-pod-identity-agent",
            cluster_name=self.cluster.cluster_name,
            resolve_conflicts="OVERWRITE",
        )
        cni_role = iam.Role(
            self,
            "VpcCniRole",
            description=f"{self.cluster.cluster_name} VPC CNI (kube-system/aws-node), EKS Pod Identity",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKS_CNI_Policy")],
        )
        cni = eks.CfnAddon(
            self,
            "Addon-vpc-cni",
            addon_name="vpc-cni",
            cluster_name=self.cluster.cluster_name,
            resolve_conflicts="OVERWRITE",
            configuration_values=json.dumps(VPC_CNI_CONFIGURATION),
            pod_identity_associations=[
                eks.CfnAddon.PodIdentityAssociationProperty(
                    role_arn=cni_role.role_arn, service_account=VPC_CNI_SERVICE_ACCOUNT
                )
            ],
        )
        cni.node.add_dependency(agent)
        return {"eks-pod-identity-agent": agent, "vpc-cni": cni}

    def _add_addons(self, nodes: eks.Nodegroup) -> dict[str, eks.CfnAddon]:
        # EKS-managed add-ons: updated with the cluster. OVERWRITE takes over the
        # self-managed copies EKS installs at creation.
        addons: dict[str, eks.CfnAddon] = {}
        for name, configuration in (
            ("kube-proxy", None),
            ("coredns", None),
        ):
            addon = eks.CfnAddon(
                self,
                f"Addon-{name}",
                addon_name=name,
                cluster_name=self.cluster.cluster_name,
                resolve_conflicts="OVERWRITE",
                configuration_values=json.dumps(configuration) if configuration else None,
            )
            # coredns only becomes ACTIVE once it has nodes to run on.
            addon.node.add_dependency(nodes)
            addons[name] = addon
        return addons

    def _add_charts(self) -> None:
        repository, chart, version = SECRETS_STORE_CHART
        self.cluster.add_helm_chart(
            "SecretsStoreCsiDriver",
            repository=repository,
            chart=chart,
            version=version,
            release="secrets-store-csi-driver-provider-aws",
            namespace="kube-system",
            values={
                # No syncing into Kubernetes Secrets: the values stay out of etcd.
                "secrets-store-csi-driver": {"install": True, "syncSecret": {"enabled": False}},
            },
        )
        repository, chart, version = METRICS_SERVER_CHART
        self.cluster.add_helm_chart(
            "MetricsServer",
            repository=repository,
            chart=chart,
            version=version,
            release="metrics-server",
            namespace="kube-system",
        )

    def _add_namespace_and_deployer_rbac(self, namespace: str) -> None:
        """The app's namespace, and what the deploy role may do beyond AmazonEKSEditPolicy.

        The pipeline's access entry (pipeline stack) gives ``AmazonEKSEditPolicy`` scoped
        to this namespace and the group ``chairtime-deployers``. Edit does not cover the
        release's Namespace object (cluster-scoped), the SecretProviderClass nor the
        SecurityGroupPolicy (CRDs): this RBAC adds exactly those, in or for this
        namespace only.
        """
        name = f"{DEPLOYERS_GROUP}-{namespace}"
        self.cluster.add_manifest(
            "AppNamespace",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": namespace, "labels": NAMESPACE_LABELS},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["namespaces"],
                        "resourceNames": [namespace],
                        "verbs": ["get", "patch"],
                    }
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": DEPLOYERS_GROUP}
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": DEPLOYERS_GROUP, "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": ["secrets-store.csi.x-k8s.io"],
                        "resources": ["secretproviderclasses"],
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    },
                    {
                        "apiGroups": ["vpcresources.k8s.aws"],
                        "resources": ["securitygrouppolicies"],
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    },
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": DEPLOYERS_GROUP, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": DEPLOYERS_GROUP},
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": DEPLOYERS_GROUP}
                ],
            },
        )

    def _add_app_pods_security_group(
        self, settings: Settings, vpc: ec2.IVpc, data: DataStack, cluster_sg: str
    ) -> ec2.SecurityGroup:
        """The app pods' own security group: the only source the database and Redis admit.

        The overlay's SecurityGroupPolicy (deploy/k8s/base/securitygrouppolicy.yaml) puts
        it on the branch network interface of every pod that talks to them (web, message
        worker, migrations); the VPC enforces it there, so no other pod of the cluster, nor
        a node, reaches either, whatever runs in it.

        Egress is written in the group itself: CloudFormation removes a new group's
        default allow-all egress rule only for rules given there. Ingress is never
        written there, only as rules of their own: the load balancer controller adds its
        ALB's rule (from its backend group, on the app port) to this group itself, and
        CloudFormation then has no ingress list of this group to reconcile it against.
        """
        env = settings.env
        pods = ec2.SecurityGroup(
            self,
            "AppPodsSecurityGroup",
            vpc=vpc,
            description=f"{env.cluster_name}: the app pods (SecurityGroupPolicy chairtime-app-pods)",
            allow_all_outbound=False,
        )
        cluster = ec2.Peer.security_group_id(cluster_sg)
        egress = (
            (ec2.Peer.security_group_id(data.db_security_group.security_group_id),
             ec2.Port.tcp(settings.db_port), "the database"),
            (ec2.Peer.security_group_id(data.redis_security_group.security_group_id),
             ec2.Port.tcp(REDIS_PORT), "Redis"),
            # CoreDNS and the CloudWatch agent run in the cluster security group (pods on
            # other nodes; those on the pod's own node are not filtered).
            (cluster, ec2.Port.tcp(53), "DNS (CoreDNS), TCP"),
            (cluster, ec2.Port.udp(53), "DNS (CoreDNS), UDP"),
            (cluster, ec2.Port.udp(EMF_PORT), "application metrics to the CloudWatch agent (EMF)"),
            # The interface endpoints (STS, Secrets Manager, CloudWatch Logs) are addresses
            # in the VPC. Beyond the VPC (DynamoDB, SES, an SMTP relay) traffic leaves with
            # the node's address and its security group, not this one (standard mode).
            (ec2.Peer.ipv4(env.vpc_cidr), ec2.Port.tcp(443), "AWS APIs through the VPC endpoints"),
        )  # fmt: skip
        for peer, port, description in egress:
            pods.add_egress_rule(peer, port, description)

        # Into the pods: the kubelet's probes, from the node (the cluster security group).
        # In standard mode a node's traffic to its own pods is not filtered; this rule
        # keeps the probes working should that change. Then the other side of each egress
        # rule: the database, Redis and the cluster group admit the pods.
        for name, group_id, source, port, description in (
            ("AppPodsFromNodes", pods.security_group_id, cluster_sg, ec2.Port.tcp(APP_PORT),
             "kubelet probes from the nodes"),
            ("DatabaseFromAppPods", data.db_security_group.security_group_id, pods.security_group_id,
             ec2.Port.tcp(settings.db_port), f"{env.cluster_name} app pods"),
            ("RedisFromAppPods", data.redis_security_group.security_group_id, pods.security_group_id,
             ec2.Port.tcp(REDIS_PORT), f"{env.cluster_name} app pods"),
            ("DnsTcpFromAppPods", cluster_sg, pods.security_group_id, ec2.Port.tcp(53),
             "DNS (CoreDNS) from the app pods"),
            ("DnsUdpFromAppPods", cluster_sg, pods.security_group_id, ec2.Port.udp(53),
             "DNS (CoreDNS) from the app pods"),
            ("EmfFromAppPods", cluster_sg, pods.security_group_id, ec2.Port.udp(EMF_PORT),
             "EMF metrics from the app pods"),
        ):  # fmt: skip
            rule = port.to_rule_json()
            ec2.CfnSecurityGroupIngress(
                self,
                name,
                group_id=group_id,
                source_security_group_id=source,
                ip_protocol=rule["ipProtocol"],
                from_port=rule["fromPort"],
                to_port=rule["toPort"],
                description=description,
            )
        return pods

    def _add_deployers_network(self, settings: Settings, vpc: ec2.IVpc, cluster_sg: str) -> None:
        """Where the pipeline's deploy project for this environment runs: this VPC's
        private subnets, in a security group of its own that the cluster's private API
        endpoint admits on 443. Exported for the shared pipeline stack (the network
        stack exports the VPC, its private subnets and their route tables)."""
        env = settings.env
        deployers = ec2.SecurityGroup(
            self,
            "DeployersSecurityGroup",
            vpc=vpc,
            description=f"{env.cluster_name}: the pipeline deploy project (kubectl to the private API)",
            allow_all_outbound=True,  # the API endpoint, ECR, STS, the Git host through NAT
        )
        ec2.CfnSecurityGroupIngress(
            self,
            "ApiFromDeployers",
            group_id=cluster_sg,
            source_security_group_id=deployers.security_group_id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="the pipeline's deploy project to the private API endpoint",
        )
        # The VPC, subnets and route tables are exported by the network stack.
        cdk.CfnOutput(
            self,
            "ExportDeployersSg",
            value=deployers.security_group_id,
            export_name=export_name(env.name, "deployers-sg"),
        )

    def _add_email_identity(self, settings: Settings, role: iam.Role) -> ses.EmailIdentity:
        """The SES identity customers' e-mail comes from, and the pods' right to send
        from it and from nothing else (the message worker, django-ses's SendRawEmail).
        A domain is verified by the three DKIM CNAME records in the outputs (Easy DKIM,
        which also signs every message); an address by the link SES mails to it."""
        name = settings.ses_identity
        identity = ses.EmailIdentity(
            self,
            "EmailIdentity",
            identity=ses.Identity.domain(name)
            if settings.ses_identity_is_domain
            else ses.Identity.email(name),
        )
        identity.apply_removal_policy(
            cdk.RemovalPolicy.RETAIN if settings.env.protect else cdk.RemovalPolicy.DESTROY
        )
        identity_arn = self.format_arn(service="ses", resource="identity", resource_name=name)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SendEmailFromTheVerifiedIdentity",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[identity_arn],
            )
        )
        cdk.CfnOutput(
            self, "SesIdentity", value=name, description="DEFAULT_FROM_EMAIL must be an address of it"
        )
        cdk.CfnOutput(self, "SesIdentityArn", value=identity_arn)
        if settings.ses_identity_is_domain:
            for n, (record, value) in enumerate(
                (
                    (identity.dkim_dns_token_name1, identity.dkim_dns_token_value1),
                    (identity.dkim_dns_token_name2, identity.dkim_dns_token_value2),
                    (identity.dkim_dns_token_name3, identity.dkim_dns_token_value3),
                ),
                1,
            ):
                cdk.CfnOutput(self, f"SesDkimRecord{n}", value=cdk.Fn.join(" CNAME ", [record, value]))
        return identity

    def _add_app_identity(self, settings: Settings, data: DataStack, agent: eks.CfnAddon) -> iam.Role:
        """The pods' role (Pod Identity): their table, their database user, their secret."""
        env = settings.env
        role = iam.Role(
            self,
            "AppRole",
            description=f"Chairtime {env.name} pods ({env.namespace}/{SERVICE_ACCOUNT}), EKS Pod Identity",
            assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AnnouncementsTable",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:Query",
                    "dynamodb:PutItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:DescribeTable",
                ],
                resources=[data.table.table_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DatabaseIamAuth",
                actions=["rds-db:connect"],
                resources=[
                    self.format_arn(
                        service="rds-db",
                        resource="dbuser",
                        resource_name=f"{data.db_resource_id}/{DATABASE_APP_USER}",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="AppSecret",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[data.app_secret.secret_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="RedisAuthSecret",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[data.redis_auth_secret.secret_arn],
            )
        )
        # The table and the secret are encrypted with the data key; DynamoDB and
        # Secrets Manager use it on the pods' behalf, and only through them.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DataKeyThroughDynamoDbAndSecretsManager",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                resources=[data.data_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [
                            f"dynamodb.{self.region}.amazonaws.com",
                            f"secretsmanager.{self.region}.amazonaws.com",
                        ]
                    }
                },
            )
        )
        association = eks.CfnPodIdentityAssociation(
            self,
            "AppPodIdentity",
            cluster_name=self.cluster.cluster_name,
            namespace=env.namespace,
            service_account=SERVICE_ACCOUNT,
            role_arn=role.role_arn,
        )
        association.node.add_dependency(agent)
        return role
