import SkiffAWS
import SkiffNet
import Testing

/// Unit tests on recorded EC2 and moto answer bodies, including the AWS-only behaviour moto does not produce.
@Suite("EC2 answer decoding")
struct ResponseDecodingTests {
    @Test("the EC2 error shape: Response/Errors/Error with RequestID")
    func dependencyViolation() {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <Response><Errors><Error><Code>DependencyViolation</Code><Message>The subnet 'subnet-0a1b' has \
            dependencies and cannot be deleted.</Message></Error></Errors>\
            <RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>
            """
        let error = EC2Error.decode(status: 400, body: Array(body.utf8), action: "DeleteSubnet")
        #expect(error.code == "DependencyViolation")
        #expect(error.requestID == "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE")
        #expect(error.message.contains("subnet-0a1b"))
        #expect(!error.isRetryable)
        #expect(
            error.description == "EC2 DeleteSubnet failed: DependencyViolation (HTTP 400): The subnet "
                + "'subnet-0a1b' has dependencies and cannot be deleted. [request id 7a62c49f-347e-4fc4-9331-6e8eEXAMPLE]"
        )
    }

    @Test("moto's auth failure shape: ErrorResponse/Errors/Error with Type")
    func authFailure() {
        let body = """
            <ErrorResponse><Errors><Error><Type>Sender</Type><Code>AuthFailure</Code><Message>AWS was not able to \
            validate the provided access credentials</Message></Error></Errors><RequestId>abc-1</RequestId></ErrorResponse>
            """
        let error = EC2Error.decode(status: 401, body: Array(body.utf8), action: "DescribeVpcs")
        #expect(error.code == "AuthFailure")
        #expect(error.requestID == "abc-1")
        #expect(error.status == 401)
    }

    @Test("the query-protocol shape ErrorResponse/Error, and an HTML 500 page")
    func otherShapes() {
        let query =
            "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            + "<RequestId>q-1</RequestId></ErrorResponse>"
        let throttled = EC2Error.decode(status: 400, body: Array(query.utf8), action: "DescribeVpcs")
        #expect(throttled.code == "Throttling")
        #expect(throttled.isRetryable)
        #expect(throttled.requestID == "q-1")
        let html = "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body>x</body></html>"
        let page = EC2Error.decode(status: 500, body: Array(html.utf8), action: "DescribeSubnets")
        #expect(page.code == "InternalError")
        #expect(page.isRetryable)
        #expect(page.message.contains("HTML"))
    }

    @Test("RequestLimitExceeded with HTTP 503 is retryable; UnsupportedOperation is not")
    func retryClassification() {
        let limit =
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
            + "</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
        #expect(EC2Error.decode(status: 503, body: Array(limit.utf8), action: "RunInstances").isThrottling)
        let unsupported =
            "<Response><Errors><Error><Code>UnsupportedOperation</Code><Message>IPv6 addresses are "
            + "not supported on m3.medium</Message></Error></Errors><RequestID>r-2</RequestID></Response>"
        let error = EC2Error.decode(status: 400, body: Array(unsupported.utf8), action: "RunInstances")
        #expect(error.code == "UnsupportedOperation")
        #expect(!error.isRetryable)
        #expect(error.message.contains("m3.medium"))
    }

    @Test("CreateVpc on real AWS: the IPv6 block is still associating and has no CIDR yet")
    func associatingVPC() throws {
        let body = """
            <CreateVpcResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
              <requestId>4d3d6a7c-EXAMPLE</requestId>
              <vpc><vpcId>vpc-0a60eb65b4EXAMPLE</vpcId><state>pending</state><cidrBlock>10.0.0.0/16</cidrBlock>
                <ipv6CidrBlockAssociationSet><item><associationId>vpc-cidr-assoc-0a4EXAMPLE</associationId>
                  <ipv6CidrBlock/><ipv6CidrBlockState><state>associating</state></ipv6CidrBlockState>
                  <networkBorderGroup>us-east-1</networkBorderGroup></item></ipv6CidrBlockAssociationSet>
                <tagSet><item><key>skiff:env</key><value>demo</value></item></tagSet>
              </vpc>
            </CreateVpcResponse>
            """
        let tree = try #require(XMLTree.parse(Array(body.utf8)))
        let vpc = EC2Vpc(decoding: try #require(tree.child("vpc")))
        #expect(vpc.id == "vpc-0a60eb65b4EXAMPLE")
        #expect(vpc.state == "pending")
        #expect(vpc.ipv6.count == 1)
        #expect(vpc.ipv6.first?.state == "associating")
        #expect(vpc.ipv6Block == nil)
        #expect(vpc.tags["skiff:env"] == "demo")
    }

    @Test("moto's subnet IPv6 state rendered as a Python dict is understood")
    func motoSubnetState() throws {
        let body = """
            <CreateSubnetResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><requestId>request-id</requestId>
            <subnet><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><availabilityZone>us-east-1a</availabilityZone>
            <cidrBlock>10.0.0.0/24</cidrBlock><ipv6CidrBlockAssociationSet><item><associationId>a-1</associationId>
            <ipv6CidrBlock>2400:6500:0:7100::/64</ipv6CidrBlock><ipv6CidrBlockState><state>{'State': 'associated'}</state>
            </ipv6CidrBlockState></item></ipv6CidrBlockAssociationSet></subnet></CreateSubnetResponse>
            """
        let tree = try #require(XMLTree.parse(Array(body.utf8)))
        let subnet = EC2Subnet(decoding: try #require(tree.child("subnet")))
        #expect(subnet.ipv6.first?.state == "associated")
        #expect(subnet.ipv6Block?.description == "2400:6500:0:7100::/64")
    }
}
