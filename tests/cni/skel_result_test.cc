// Result rendering for every spec version (golden JSON in the reference's exact shape) and prevResult parsing.
//
// IP plan: container eth0 10.1.2.3/24 gw 10.1.2.1 and 2001:db8::3/64 gw 2001:db8::1; routes 0.0.0.0/0, ::/0.
#include <gtest/gtest.h>

#include "cni/skel/result.h"

namespace nodenet::cni {
namespace {

AddResult sample() {
  AddResult r;
  r.interfaces.push_back({"cni0", "0a:58:0a:01:02:01", 0, "", "", ""});
  r.interfaces.push_back({"eth0", "0a:58:0a:01:02:03", 1500, "/var/run/netns/c1", "", ""});
  r.ips.push_back({1, *Cidr::parse("10.1.2.3/24"), *IpAddress::parse("10.1.2.1")});
  r.ips.push_back({1, *Cidr::parse("2001:db8::3/64"), *IpAddress::parse("2001:db8::1")});
  r.routes.push_back({*Cidr::parse("0.0.0.0/0"), std::nullopt});
  Route r6{*Cidr::parse("::/0"), *IpAddress::parse("2001:db8::1")};
  r6.mtu = 1400;
  r6.table = 100;
  r.routes.push_back(r6);
  r.dns.nameservers = {"10.0.0.10"};
  r.dns.search = {"svc.cluster.local"};
  return r;
}

TEST(SkelResult, V1Golden) {
  const char* golden = R"({
    "cniVersion": "1.1.0",
    "dns": {
        "nameservers": [
            "10.0.0.10"
        ],
        "search": [
            "svc.cluster.local"
        ]
    },
    "interfaces": [
        {
            "mac": "0a:58:0a:01:02:01",
            "name": "cni0"
        },
        {
            "mac": "0a:58:0a:01:02:03",
            "mtu": 1500,
            "name": "eth0",
            "sandbox": "/var/run/netns/c1"
        }
    ],
    "ips": [
        {
            "address": "10.1.2.3/24",
            "gateway": "10.1.2.1",
            "interface": 1
        },
        {
            "address": "2001:db8::3/64",
            "gateway": "2001:db8::1",
            "interface": 1
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        },
        {
            "dst": "::/0",
            "gw": "2001:db8::1",
            "mtu": 1400,
            "table": 100
        }
    ]
})";
  EXPECT_EQ(*renderResult(sample(), "1.1.0"), golden);
  std::string v100 = golden;
  v100.replace(v100.find("1.1.0"), 5, "1.0.0");
  EXPECT_EQ(*renderResult(sample(), "1.0.0"), v100);
}

TEST(SkelResult, V1EmptyDnsOmitted) {
  AddResult r;
  r.ips.push_back({std::nullopt, *Cidr::parse("10.0.0.2/8"), std::nullopt});
  EXPECT_EQ(*renderResult(r, "1.0.0"), R"({
    "cniVersion": "1.0.0",
    "ips": [
        {
            "address": "10.0.0.2/8"
        }
    ]
})");
}

TEST(SkelResult, V04Golden) {
  const char* golden = R"({
    "cniVersion": "0.4.0",
    "interfaces": [
        {
            "name": "cni0",
            "mac": "0a:58:0a:01:02:01"
        },
        {
            "name": "eth0",
            "mac": "0a:58:0a:01:02:03",
            "sandbox": "/var/run/netns/c1"
        }
    ],
    "ips": [
        {
            "version": "4",
            "interface": 1,
            "address": "10.1.2.3/24",
            "gateway": "10.1.2.1"
        },
        {
            "version": "6",
            "interface": 1,
            "address": "2001:db8::3/64",
            "gateway": "2001:db8::1"
        }
    ],
    "routes": [
        {
            "dst": "0.0.0.0/0"
        },
        {
            "dst": "::/0",
            "gw": "2001:db8::1",
            "mtu": 1400,
            "table": 100
        }
    ],
    "dns": {
        "nameservers": [
            "10.0.0.10"
        ],
        "search": [
            "svc.cluster.local"
        ]
    }
})";
  for (const char* v : {"0.4.0", "0.3.1", "0.3.0"}) {
    std::string g = golden;
    g.replace(g.find("0.4.0"), 5, v);
    EXPECT_EQ(*renderResult(sample(), v), g) << v;
  }
}

TEST(SkelResult, V04EmptyDnsStillPresent) {
  AddResult r;
  r.ips.push_back({std::nullopt, *Cidr::parse("10.0.0.2/8"), std::nullopt});
  EXPECT_EQ(*renderResult(r, "0.3.1"), R"({
    "cniVersion": "0.3.1",
    "ips": [
        {
            "version": "4",
            "address": "10.0.0.2/8"
        }
    ],
    "dns": {}
})");
}

TEST(SkelResult, V02Golden) {
  AddResult r = sample();
  r.ips.push_back({1, *Cidr::parse("10.9.9.9/24"), std::nullopt});  // a second v4: dropped in 0.2.0
  const char* golden = R"({
    "cniVersion": "0.2.0",
    "ip4": {
        "ip": "10.1.2.3/24",
        "gateway": "10.1.2.1",
        "routes": [
            {
                "dst": "0.0.0.0/0"
            }
        ]
    },
    "ip6": {
        "ip": "2001:db8::3/64",
        "gateway": "2001:db8::1",
        "routes": [
            {
                "dst": "::/0",
                "gw": "2001:db8::1"
            }
        ]
    },
    "dns": {
        "nameservers": [
            "10.0.0.10"
        ],
        "search": [
            "svc.cluster.local"
        ]
    }
})";
  EXPECT_EQ(*renderResult(r, "0.2.0"), golden);
  std::string g010 = golden;
  g010.replace(g010.find("0.2.0"), 5, "0.1.0");
  EXPECT_EQ(*renderResult(r, "0.1.0"), g010);
}

TEST(SkelResult, ConversionErrors) {
  AddResult empty;
  auto e = renderResult(empty, "0.2.0");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().msg, "cannot convert: no valid IP addresses");
  EXPECT_EQ(renderResult(empty, "2.0.0").error().code, 1u);
  EXPECT_EQ(*renderResult(empty, "1.1.0"), "{\n    \"cniVersion\": \"1.1.0\"\n}");
}

TEST(SkelResult, RoundTripEveryVersion) {
  AddResult s = sample();
  for (const char* v : {"1.1.0", "1.0.0"}) {
    auto j = nlohmann::json::parse(*renderResult(s, v));
    auto back = parseResult(j, v);
    ASSERT_TRUE(back.ok()) << back.error().toString();
    back->cniVersion = "";
    EXPECT_EQ(*back, s) << v;
  }
  for (const char* v : {"0.4.0", "0.3.1", "0.3.0"}) {
    auto back = parseResult(nlohmann::json::parse(*renderResult(s, v)), v);
    ASSERT_TRUE(back.ok());
    // 0.x interfaces have no mtu/socketPath/pciID.
    AddResult want = s;
    want.interfaces[1].mtu = 0;
    back->cniVersion = "";
    EXPECT_EQ(*back, want) << v;
  }
  for (const char* v : {"0.2.0", "0.1.0"}) {
    auto back = parseResult(nlohmann::json::parse(*renderResult(s, v)), v);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->interfaces.empty());
    ASSERT_EQ(back->ips.size(), 2u);
    EXPECT_FALSE(back->ips[0].interface);
    ASSERT_EQ(back->routes.size(), 2u);
    EXPECT_EQ(back->routes[1].mtu, 0);  // 0.2.0 routes carry only dst and gw
    EXPECT_EQ(back->dns, s.dns);
  }
}

TEST(SkelResult, ParseErrors) {
  using nlohmann::json;
  EXPECT_EQ(parseResult(json::array(), "1.0.0").error().code, 6u);
  EXPECT_EQ(parseResult(json::parse(R"({"ips": [{"gateway": "1.1.1.1"}]})"), "1.0.0").error().code, 6u);
  EXPECT_EQ(parseResult(json::parse(R"({"ips": [{"address": "1.1.1.1/8", "interface": "x"}]})"), "1.0.0").error().code, 6u);
  EXPECT_EQ(parseResult(json::parse(R"({"routes": [{"gw": "1.1.1.1"}]})"), "0.4.0").error().code, 6u);
  EXPECT_EQ(parseResult(json::parse(R"({"ip4": {"ip": "nope"}})"), "0.2.0").error().code, 6u);
  EXPECT_EQ(parseResult(json::object(), "0.9.0").error().code, 1u);
}

}  // namespace
}  // namespace nodenet::cni
