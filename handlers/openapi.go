package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument (GET /openapi.json) serves the OpenAPI 3.1 description of
// /v1, static/openapi.json as kept in the repository. The API tests check
// every answer they get against it, and that every route of the API's
// table has its operation there (openapi_test.go), so it cannot drift.
// Anyone may read it, from any origin: it holds nothing secret.
func (a *App) openAPIDocument(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderAccessControlAllowOrigin, "*")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, a.openAPI)
}
