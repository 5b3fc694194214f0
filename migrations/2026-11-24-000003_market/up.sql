-- The one vendor a chat session is about, and the sellers' offers collected in it.

CREATE TABLE vendors (
    id         uuid PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    name       text NOT NULL CONSTRAINT vendors_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    email      text CONSTRAINT vendors_email_check CHECK (char_length(email) BETWEEN 3 AND 254),
    phone      text CONSTRAINT vendors_phone_check CHECK (phone ~ '^[0-9 +()-]{3,32}$'),
    website    text
               CONSTRAINT vendors_website_check
               CHECK (website ~* '^https?://' AND char_length(website) <= 2048),
    address    text CONSTRAINT vendors_address_check CHECK (char_length(address) <= 500),
    notes      text CONSTRAINT vendors_notes_check CHECK (char_length(notes) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One vendor per session.
CREATE UNIQUE INDEX vendors_session_id_key ON vendors (session_id);

CREATE TABLE sellers (
    id                  uuid PRIMARY KEY,
    session_id          uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    name                text NOT NULL
                        CONSTRAINT sellers_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    email               text CONSTRAINT sellers_email_check CHECK (char_length(email) BETWEEN 3 AND 254),
    phone               text CONSTRAINT sellers_phone_check CHECK (phone ~ '^[0-9 +()-]{3,32}$'),
    product_name        text NOT NULL
                        CONSTRAINT sellers_product_name_check CHECK (char_length(product_name) BETWEEN 1 AND 200),
    product_description text
                        CONSTRAINT sellers_product_description_check
                        CHECK (char_length(product_description) <= 2000),
    price_minor         bigint NOT NULL
                        CONSTRAINT sellers_price_minor_check CHECK (price_minor BETWEEN 0 AND 1000000000000),
    currency            text NOT NULL CONSTRAINT sellers_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    quantity            bigint
                        CONSTRAINT sellers_quantity_check CHECK (quantity BETWEEN 1 AND 1000000000),
    unit                text CONSTRAINT sellers_unit_check CHECK (char_length(unit) BETWEEN 1 AND 20),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- A seller offers a product once per session, case-insensitively; also serves the
-- session's seller list.
CREATE UNIQUE INDEX sellers_session_name_product_key
    ON sellers (session_id, lower(name), lower(product_name));
