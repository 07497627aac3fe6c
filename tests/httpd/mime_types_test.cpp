#include "mime_types.hpp"

#include <gtest/gtest.h>

namespace {

TEST(MimeTypes, CommonExtensions) {
    EXPECT_EQ(httpd::mime_type_for("index.html"), "text/html; charset=utf-8");
    EXPECT_EQ(httpd::mime_type_for("a/b/style.css"), "text/css; charset=utf-8");
    EXPECT_EQ(httpd::mime_type_for("app.js"), "text/javascript; charset=utf-8");
    EXPECT_EQ(httpd::mime_type_for("x.json"), "application/json");
    EXPECT_EQ(httpd::mime_type_for("p.PNG"), "image/png");
    EXPECT_EQ(httpd::mime_type_for("p.JpEg"), "image/jpeg");
    EXPECT_EQ(httpd::mime_type_for("v.svg"), "image/svg+xml");
    EXPECT_EQ(httpd::mime_type_for("f.woff2"), "font/woff2");
    EXPECT_EQ(httpd::mime_type_for("doc.pdf"), "application/pdf");
    EXPECT_EQ(httpd::mime_type_for("notes.txt"), "text/plain; charset=utf-8");
}

TEST(MimeTypes, UnknownIsOctetStream) {
    EXPECT_EQ(httpd::mime_type_for("README"), "application/octet-stream");
    EXPECT_EQ(httpd::mime_type_for("x.unknown"), "application/octet-stream");
    EXPECT_EQ(httpd::mime_type_for("x."), "application/octet-stream");
    EXPECT_EQ(httpd::mime_type_for("dir.html/file"), "application/octet-stream");
    EXPECT_EQ(httpd::mime_type_for("x.verylongextension"), "application/octet-stream");
    EXPECT_EQ(httpd::mime_type_for(""), "application/octet-stream");
}

}  // namespace
