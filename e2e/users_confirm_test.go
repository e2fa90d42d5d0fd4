package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestNoOneClickAccidents, at 1280 and 390 px: Reset password asks first
// and shows the new password once (a reload shows a note, not the password,
// and resets nothing); another user's role changes in one click; demoting
// yourself asks first, says what you lose, and lands on the inventory.
// Each width's admin hands over to the other user, who signs in with the
// password the reset showed.
func TestNoOneClickAccidents(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	srv := startServer(t, f.env)
	actor, other := f.adminEmail, f.viewerEmail
	passwords := map[string]string{f.adminEmail: f.adminPassword, f.viewerEmail: f.viewerPassword}
	for _, width := range uxWidths {
		page := newSizedPage(t, width)
		look := func(name string) {
			t.Helper()
			checkFits(t, page, name)
			checkAxe(t, page, name)
			screenshot(t, page, fmt.Sprintf("ux-%s-%d", name, width))
		}
		goTo(t, page, srv.URL+"/login")
		signIn(t, page, srv.URL, actor, passwords[actor])
		must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))

		// Reset the other user's password.
		goTo(t, page, srv.URL+"/users")
		must(t, page.GetByTestId("user-"+other).GetByTestId("reset-password").Click())
		must(t, expect.Locator(page.GetByTestId("reset-password-confirm")).ToContainText(other))
		look("reset-password-confirm")
		must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Reset password"}).Click())
		value := page.GetByTestId("notices").GetByTestId("new-password-value")
		must(t, expect.Locator(value).ToBeVisible())
		pw, err := value.TextContent()
		must(t, err)
		pw = strings.TrimSpace(pw)
		if strings.Contains(page.URL(), pw) {
			t.Fatal("the new password is in the URL")
		}
		look("new-password")
		// A reload: the note, not the password, and no new reset.
		_, err = page.Reload()
		must(t, err)
		must(t, expect.Locator(page.GetByTestId("password-shown-once")).ToBeVisible())
		must(t, expect.Locator(page.GetByTestId("new-password")).ToHaveCount(0))
		if body, _ := page.Content(); strings.Contains(body, pw) {
			t.Fatal("the reloaded page holds the password")
		}
		look("new-password-reloaded")
		passwords[other] = pw

		// Another user's role: one click on Save.
		goTo(t, page, srv.URL+"/users")
		otherRow := page.GetByTestId("user-" + other)
		_, err = otherRow.Locator("select[name=role]").SelectOption(playwright.SelectOptionValues{Values: &[]string{"admin"}})
		must(t, err)
		must(t, otherRow.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save"}).Click())
		must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText(other+" is now admin."))
		must(t, expect.Page(page).ToHaveURL(srv.URL+"/users"))

		// Your own: a confirmation that says what you lose.
		selfRow := page.GetByTestId("user-" + actor)
		_, err = selfRow.Locator("select[name=role]").SelectOption(playwright.SelectOptionValues{Values: &[]string{"viewer"}})
		must(t, err)
		must(t, selfRow.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save"}).Click())
		confirm := page.GetByTestId("demote-self-confirm")
		must(t, expect.Locator(confirm).ToContainText("can no longer"))
		must(t, expect.Locator(confirm).ToContainText("destroy data links"))
		look("demote-self-confirm")
		must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Make me a viewer"}).Click())
		must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
		must(t, expect.Locator(page.GetByTestId("flash-success")).ToContainText("You are now a viewer"))
		must(t, expect.Locator(page.GetByTestId("error-page")).ToHaveCount(0))
		must(t, expect.Locator(page.Locator(`a[href="/users"]`)).ToHaveCount(0))
		look("demoted-self")

		actor, other = other, actor
	}
	// The last reset's password works: reloading its page made no other.
	page := newSizedPage(t, 1280)
	goTo(t, page, srv.URL+"/login")
	signIn(t, page, srv.URL, actor, passwords[actor])
	must(t, expect.Page(page).ToHaveURL(srv.URL+"/"))
	goTo(t, page, srv.URL+"/users")
	must(t, expect.Locator(page.GetByTestId("user-"+other)).ToBeVisible())
}
