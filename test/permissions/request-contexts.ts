// Request contexts and ARNs shared by the IAM evaluation tables (hub roles and member roles).
export type Context = Record<string, string | string[]>;

export const OPT_IN_KEY = 'aviatrix.com/onboard';
export const OPTED_IN: Context = { [`aws:ResourceTag/${OPT_IN_KEY}`]: 'true' };
export const NOT_OPTED_IN: Context = { [`aws:ResourceTag/${OPT_IN_KEY}`]: 'false' };
export const OURS: Context = { 'aws:ResourceTag/eks-aviatrix:managed': 'true' };
export const EC2_OURS: Context = { 'ec2:ResourceTag/eks-aviatrix:managed': 'true', 'aws:ResourceTag/eks-aviatrix:managed': 'true' };
export const EKS_CLUSTER_SG: Context = { 'ec2:ResourceTag/aws:eks:cluster-name': 'c1', 'aws:ResourceTag/aws:eks:cluster-name': 'c1' };
export const MANAGED_REQUEST: Context = { 'aws:RequestTag/eks-aviatrix:managed': 'true', 'aws:TagKeys': ['eks-aviatrix:managed'] };
export const ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
export const VIEW_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
export const CONTROLLER_ROLE = 'arn:aws:iam::111122223333:role/aviatrix-role-app';
